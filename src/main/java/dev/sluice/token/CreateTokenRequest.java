package dev.sluice.token;

import dev.sluice.platform.api.Names;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import java.time.Instant;

/** {@code role}: platform-admin (platform tokens only) or tenant-admin | tenant-member | tenant-viewer. */
public record CreateTokenRequest(
        @NotNull @Pattern(regexp = Names.NAME_PATTERN, message = Names.NAME_MESSAGE) String name,
        @NotNull @Pattern(regexp = "platform-admin|tenant-admin|tenant-member|tenant-viewer",
                message = "must be one of platform-admin, tenant-admin, tenant-member, tenant-viewer") String role,
        Instant expiresAt) {
}

package dev.sluice.machine;

import dev.sluice.platform.api.Names;
import jakarta.validation.constraints.Pattern;
import java.time.Instant;

/** Both optional: name defaults to {@code machine-<machine id>}; no expiresAt means it never expires. */
public record CreateMachineCredentialRequest(
        @Pattern(regexp = Names.NAME_PATTERN, message = Names.NAME_MESSAGE) String name,
        Instant expiresAt) {
}

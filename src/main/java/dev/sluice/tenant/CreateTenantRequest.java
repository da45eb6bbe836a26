package dev.sluice.tenant;

import dev.sluice.platform.api.Names;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import jakarta.validation.constraints.Size;

public record CreateTenantRequest(
        @NotNull @Pattern(regexp = Names.NAME_PATTERN, message = Names.NAME_MESSAGE) String name,
        @Size(max = 200) String displayName) {
}

package dev.sluice.machine;

import dev.sluice.platform.api.Names;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import java.util.Map;

/** mac: six hex pairs separated by ':' or '-' (stored lower-case with ':'); unique across all tenants (the boot endpoint resolves it). */
public record CreateMachineRequest(
        @NotNull @Pattern(regexp = Names.NAME_PATTERN, message = Names.NAME_MESSAGE) String name,
        @Pattern(regexp = MacAddress.PATTERN, message = MacAddress.MESSAGE) String mac,
        @NotNull String imageId,
        Map<String, String> labels) {
}

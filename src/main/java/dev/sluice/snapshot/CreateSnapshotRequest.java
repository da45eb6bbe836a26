package dev.sluice.snapshot;

import dev.sluice.platform.api.Names;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;

/** target: the name of one of the agent's extra targets ({@code --target NAME=URL}); absent = the repository. */
public record CreateSnapshotRequest(
        @NotNull @Pattern(regexp = Names.NAME_PATTERN, message = Names.NAME_MESSAGE) String name,
        @Pattern(regexp = Names.NAME_PATTERN, message = Names.NAME_MESSAGE) String target) {
}

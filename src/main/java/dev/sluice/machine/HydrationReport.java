package dev.sluice.machine;

import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import jakarta.validation.constraints.PositiveOrZero;

/**
 * What a machine's agent reports about its local copy of the disk (PUT /machines/{id}/hydration).
 * totalBlocks must equal the machine's image's block count; presentBlocks and dirtyBlocks are at most that;
 * state hydrated means every block is present and prefetch has stopped.
 */
public record HydrationReport(
        @NotNull @PositiveOrZero Long presentBlocks,
        @NotNull @PositiveOrZero Long totalBlocks,
        @NotNull @PositiveOrZero Long dirtyBlocks,
        @NotNull @PositiveOrZero Long bytesFetched,
        @NotNull @PositiveOrZero Long fetchRateBytesPerSecond,
        @NotNull @Pattern(regexp = "streaming|hydrated", message = "must be streaming or hydrated") String state) {
}

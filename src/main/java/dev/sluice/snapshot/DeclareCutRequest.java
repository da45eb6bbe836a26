package dev.sluice.snapshot;

import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;

/** The agent froze {@code cutBlocks} blocks for this snapshot (progress shows them as the total). */
public record DeclareCutRequest(@NotNull @Min(0) Long cutBlocks) {
}

package dev.sluice.boot;

import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Size;
import java.util.List;

/**
 * An agent's first touches (the blocks its guest read, hits and misses alike, in first-touch order) for a boot it was handed
 * (POST /machines/{id}/boot-misses). At most {@link #MAX_BLOCKS} per request; each index within the image.
 */
public record BootMissesReport(@NotNull String bootId, @NotNull @Size(max = MAX_BLOCKS) List<@NotNull Long> blocks) {
    public static final int MAX_BLOCKS = 4096;
}

package dev.sluice.image;

import dev.sluice.platform.api.Names;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import jakarta.validation.constraints.Size;
import java.util.Map;

/**
 * sizeBytes: a positive multiple of 512 (a sector) up to 64 TiB. blockSize: a power of two from 4 KiB to 4 MiB,
 * default 64 KiB. labels: up to 64 string pairs.
 */
public record CreateImageRequest(
        @NotNull @Pattern(regexp = Names.NAME_PATTERN, message = Names.NAME_MESSAGE) String name,
        @NotNull @Min(value = 512, message = "must be at least 512") @Max(value = ImageGeometry.MAX_SIZE_BYTES, message = "must be at most 64 TiB") Long sizeBytes,
        Integer blockSize,
        @Size(max = Names.MAX_DESCRIPTION) String description,
        Map<String, String> labels) {
}

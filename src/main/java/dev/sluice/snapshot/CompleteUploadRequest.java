package dev.sluice.snapshot;

import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;

/**
 * The agent sent its whole cut: {@code cutBlocks} blocks whose indices, sorted ascending as 8-byte big-endian
 * integers, hash (SHA-256, hex) to {@code cutDigest}. The server commits only if what it received is exactly that set.
 */
public record CompleteUploadRequest(@NotNull @Min(0) Long cutBlocks,
                                    @NotNull @Pattern(regexp = "[0-9a-f]{64}", message = "64 lower-case hex digits") String cutDigest) {
}

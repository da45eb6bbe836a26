package dev.sluice.snapshot;

import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;

/**
 * The agent sent its whole cut: {@code cutBlocks} blocks whose indices, sorted ascending as 8-byte big-endian
 * integers, hash (SHA-256, hex) to {@code cutDigest}. The server commits only if what it received is exactly that set.
 */
public record CompleteUploadRequest(@NotNull @Min(0) Long cutBlocks,
                                    @NotNull @Pattern(regexp = CompleteUploadRequest.CUT_DIGEST, message = CompleteUploadRequest.CUT_DIGEST_RULE) String cutDigest) {
    /** What a cut digest looks like, here and where a block batch names its cut ({@code SnapshotBlocksRoute}). */
    public static final String CUT_DIGEST = "[0-9a-f]{64}";
    public static final String CUT_DIGEST_RULE = "64 lower-case hex digits";
}

package dev.sluice.image;

import dev.sluice.platform.problem.ApiException;
import dev.sluice.platform.problem.ProblemType;

/** The rules for an image's size and block size. */
public final class ImageGeometry {
    public static final long MAX_SIZE_BYTES = 64L << 40;
    public static final int MIN_BLOCK_SIZE = 4 << 10;
    public static final int MAX_BLOCK_SIZE = 4 << 20;
    /** 64 KiB, as qcow2: small enough that a boot's scattered reads fetch little extra, large enough for few round trips. */
    public static final int DEFAULT_BLOCK_SIZE = 64 << 10;
    public static final int SECTOR = 512;

    private ImageGeometry() {
    }

    public static int blockSize(Integer requested) {
        if (requested == null) {
            return DEFAULT_BLOCK_SIZE;
        }
        int b = requested;
        if (b < MIN_BLOCK_SIZE || b > MAX_BLOCK_SIZE || Integer.bitCount(b) != 1) {
            throw ApiException.field(ProblemType.VALIDATION, "blockSize", "must be a power of two between 4096 and 4194304");
        }
        return b;
    }

    public static long sizeBytes(long size, int blockSize) {
        if (size % SECTOR != 0) {
            throw ApiException.field(ProblemType.VALIDATION, "sizeBytes", "must be a multiple of 512");
        }
        if ((size + blockSize - 1) / blockSize > dev.sluice.manifest.ManifestFormat.MAX_BLOCKS) {
            throw ApiException.field(ProblemType.VALIDATION, "sizeBytes", "more than 2^27 blocks: choose a larger blockSize");
        }
        return size;
    }
}

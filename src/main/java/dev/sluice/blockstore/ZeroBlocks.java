package dev.sluice.blockstore;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * All-zero blocks are never stored (DESIGN §2): writers detect them, readers synthesize them. One shared
 * read-only buffer as long as the largest block serves both; never modify it.
 */
public final class ZeroBlocks {
    /** 4 MiB of zeros: the largest block size an image may use. */
    public static final byte[] ZEROS = new byte[4 << 20];
    /** The same zeros off the heap, for the data plane: sent to sockets without a copy. Share duplicates only. */
    private static final ByteBuffer DIRECT_ZEROS = ByteBuffer.allocateDirect(ZEROS.length).asReadOnlyBuffer();

    private ZeroBlocks() {
    }

    /** Whether every byte of {@code block} (at most 4 MiB) is zero. Vectorized by the JDK. */
    public static boolean isZero(byte[] block) {
        return Arrays.mismatch(block, 0, block.length, ZEROS, 0, block.length) == -1;
    }

    /** {@code length} (at most 4 MiB) zero bytes as a read-only direct buffer shared by every caller. */
    public static ByteBuffer direct(int length) {
        return DIRECT_ZEROS.duplicate().limit(length);
    }
}

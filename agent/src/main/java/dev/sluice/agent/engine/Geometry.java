package dev.sluice.agent.engine;

/**
 * The shape of an image: {@code sizeBytes} cut into blocks of {@code blockSize} (a power of two).
 * Blocks are numbered {@code 0 .. blockCount-1}; the last block is short when the size is not a multiple
 * of the block size, exactly as the wire contract serves it.
 */
public record Geometry(long sizeBytes, int blockSize) {

    /** Largest block the agent accepts: one block must fit a single buffer and a single wire frame. */
    public static final int MAX_BLOCK_SIZE = 16 << 20;

    public Geometry {
        if (sizeBytes <= 0) throw new IllegalArgumentException("sizeBytes must be positive: " + sizeBytes);
        if (blockSize < 512 || blockSize > MAX_BLOCK_SIZE || Integer.bitCount(blockSize) != 1) {
            throw new IllegalArgumentException("blockSize must be a power of two in [512, 16 MiB]: " + blockSize);
        }
    }

    public long blockCount() {
        return (sizeBytes + blockSize - 1) / blockSize;
    }

    public long blockOffset(long block) {
        return block * blockSize;
    }

    /** Bytes in {@code block}: {@code blockSize}, except for a short last block. */
    public int blockLength(long block) {
        if (block < 0 || block >= blockCount()) throw new IndexOutOfBoundsException("block " + block);
        return (int) Math.min(blockSize, sizeBytes - block * blockSize);
    }

    public long blockOf(long offset) {
        return offset / blockSize;
    }
}

package dev.sluice.agent.nbd;

import dev.sluice.agent.engine.BlockEngine;
import dev.sluice.agent.engine.Geometry;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The one place where byte-addressed NBD writes become whole-block engine calls: an unaligned head,
 * the aligned middle as one run, an unaligned tail.
 */
public final class WriteSplitter {

    private WriteSplitter() {
    }

    /** Writes {@code src} at {@code offset}; the caller has checked the range lies within the disk. */
    public static void write(BlockEngine engine, long offset, ByteBuffer src) throws IOException {
        Geometry g = engine.geometry();
        ByteBuffer part = src.duplicate();
        long pos = offset;
        long end = offset + src.remaining();
        int base = src.position();
        while (pos < end) {
            long block = g.blockOf(pos);
            long blockStart = g.blockOffset(block);
            int inBlock = (int) (pos - blockStart);
            int blockLen = g.blockLength(block);
            if (inBlock != 0 || end - pos < blockLen) {
                int n = (int) Math.min(blockLen - inBlock, end - pos);
                part.limit(base + (int) (pos - offset) + n).position(base + (int) (pos - offset));
                engine.writeWithinBlock(block, inBlock, part);
                pos += n;
            } else {
                long wholeEnd = end == g.sizeBytes() ? end : g.blockOffset(g.blockOf(end));
                part.limit(base + (int) (wholeEnd - offset)).position(base + (int) (pos - offset));
                engine.writeBlocks(block, part);
                pos = wholeEnd;
            }
        }
    }
}

package dev.sluice.gc;

import dev.sluice.blockstore.BlockDigest;
import java.nio.ByteBuffer;

/**
 * A Bloom filter of block digests: the collector's "referenced" set in bounded memory (10 bits per digest,
 * about 1% false positives). A false positive only keeps a garbage block for another round; there are no false
 * negatives, so a referenced block is never collected. SHA-256 digests are uniform, so their own bytes serve as
 * the hash functions.
 */
final class DigestFilter {
    private static final int HASHES = 7;
    private final long[] bits;
    private final long size;

    DigestFilter(long expectedEntries) {
        long wanted = Math.max(1024, expectedEntries * 10);
        this.size = Math.min(wanted, 1L << 36);
        this.bits = new long[(int) Math.min(Integer.MAX_VALUE - 8, (size + 63) / 64)];
    }

    void add(BlockDigest digest) {
        ByteBuffer b = ByteBuffer.wrap(digest.toBytes());
        long h1 = b.getLong(0);
        long h2 = b.getLong(8);
        for (int i = 0; i < HASHES; i++) {
            long bit = Math.floorMod(h1 + i * h2, (long) bits.length * 64);
            bits[(int) (bit >>> 6)] |= 1L << (bit & 63);
        }
    }

    boolean mightContain(BlockDigest digest) {
        ByteBuffer b = ByteBuffer.wrap(digest.toBytes());
        long h1 = b.getLong(0);
        long h2 = b.getLong(8);
        for (int i = 0; i < HASHES; i++) {
            long bit = Math.floorMod(h1 + i * h2, (long) bits.length * 64);
            if ((bits[(int) (bit >>> 6)] & (1L << (bit & 63))) == 0) {
                return false;
            }
        }
        return true;
    }
}

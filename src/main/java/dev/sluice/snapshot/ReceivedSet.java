package dev.sluice.snapshot;

import dev.sluice.blockstore.BlockDigest;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * The blocks an upload durably received, sorted by block index, each with its digest (32 zero bytes = an all-zero
 * block, as in a manifest segment). Built from the upload's batch rows ({@code snapshot_batches.entries}: 40 bytes
 * per frame, the block index then the digest), read in batch order so that a block received twice keeps its latest
 * digest. {@code frames} counts every frame recorded, so {@code frames - size()} is how many were sent again.
 */
final class ReceivedSet {
    static final int ENTRY = 8 + BlockDigest.LENGTH;
    private static final byte[] ZERO = new byte[BlockDigest.LENGTH];

    private final long[] indices;
    private final byte[] digests; // indices.length × 32
    private final long frames;

    private ReceivedSet(long[] indices, byte[] digests, long frames) {
        this.indices = indices;
        this.digests = digests;
        this.frames = frames;
    }

    /** One batch row's entries: the frames' indices and digests (null = zero block), in frame order. */
    static byte[] pack(long[] indices, BlockDigest[] digests, int count) {
        ByteBuffer b = ByteBuffer.allocate(count * ENTRY);
        for (int i = 0; i < count; i++) {
            b.putLong(indices[i]);
            b.put(digests[i] == null ? ZERO : digests[i].toBytes());
        }
        return b.array();
    }

    /** Accumulates batch rows (in ascending seq) and legacy per-block rows into a set. */
    static final class Builder {
        private long[] idx = new long[64];
        private byte[] dig = new byte[64 * BlockDigest.LENGTH];
        private int n;
        private long frames;

        /** A legacy {@code snapshot_blocks} row (digest hex, or null for a zero block); read before any batch. */
        Builder addBlock(long index, String digestHex) {
            add(index, digestHex == null ? ZERO : BlockDigest.fromHex(digestHex).toBytes(), 0);
            return this;
        }

        /** A batch row's entries. */
        Builder addBatch(byte[] entries) {
            if (entries.length % ENTRY != 0) {
                throw new IllegalStateException("a snapshot batch row of " + entries.length + " bytes is not a whole number of entries");
            }
            for (int off = 0; off < entries.length; off += ENTRY) {
                add(ByteBuffer.wrap(entries, off, 8).getLong(), entries, off + 8);
            }
            return this;
        }

        private void add(long index, byte[] src, int srcOff) {
            if (n == idx.length) {
                idx = Arrays.copyOf(idx, n * 2);
                dig = Arrays.copyOf(dig, n * 2 * BlockDigest.LENGTH);
            }
            idx[n] = index;
            System.arraycopy(src, srcOff, dig, n * BlockDigest.LENGTH, BlockDigest.LENGTH);
            n++;
            frames++;
        }

        /** Sorted by index; of the entries of one index the last added wins. */
        ReceivedSet build() {
            Integer[] order = new Integer[n];
            for (int i = 0; i < n; i++) {
                order[i] = i;
            }
            // stable sort: entries of one index stay in the order added, so the last of a run is the latest
            Arrays.sort(order, (a, b) -> Long.compare(idx[a], idx[b]));
            long[] outIdx = new long[n];
            byte[] outDig = new byte[n * BlockDigest.LENGTH];
            int m = 0;
            for (int k = 0; k < n; k++) {
                int i = order[k];
                if (m > 0 && outIdx[m - 1] == idx[i]) {
                    m--; // a later entry of the same block replaces the earlier one
                }
                outIdx[m] = idx[i];
                System.arraycopy(dig, i * BlockDigest.LENGTH, outDig, m * BlockDigest.LENGTH, BlockDigest.LENGTH);
                m++;
            }
            return new ReceivedSet(Arrays.copyOf(outIdx, m), Arrays.copyOf(outDig, m * BlockDigest.LENGTH), frames);
        }
    }

    int size() {
        return indices.length;
    }

    long frames() {
        return frames;
    }

    long index(int i) {
        return indices[i];
    }

    /** Copies the i-th digest (32 zero bytes for a zero block) into {@code dst} at {@code off}. */
    void copyDigest(int i, byte[] dst, int off) {
        System.arraycopy(digests, i * BlockDigest.LENGTH, dst, off, BlockDigest.LENGTH);
    }

    /** The i-th digest, or null for a zero block. */
    BlockDigest digest(int i) {
        byte[] d = Arrays.copyOfRange(digests, i * BlockDigest.LENGTH, (i + 1) * BlockDigest.LENGTH);
        return Arrays.equals(d, ZERO) ? null : BlockDigest.fromBytes(d);
    }

    /** SHA-256 (hex) of the sorted block indices as 8-byte big-endian integers: the cut's identity. */
    String cutDigest() {
        ByteBuffer b = ByteBuffer.allocate(indices.length * 8);
        for (long i : indices) {
            b.putLong(i);
        }
        return BlockDigest.of(b.array()).hex();
    }

    java.util.List<Long> indexList() {
        return Arrays.stream(indices).boxed().toList();
    }
}

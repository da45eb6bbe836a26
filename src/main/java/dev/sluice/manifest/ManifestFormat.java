package dev.sluice.manifest;

import dev.sluice.blockstore.BlockDigest;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * The on-store encoding of image manifests. Both parts are ordinary content-addressed blobs in the tenant's
 * block store, so a snapshot's manifest shares every unchanged segment with its parent for free.
 *
 * <pre>
 * segment  : entries × 32 bytes, the digests of blocks [n·1024, n·1024 + entries); 32 zero bytes = all-zero block
 * manifest : "SLMF" | u8 version=1 | 3 reserved | u64 blockCount | u32 blockSize | u32 segmentCount
 *            | segmentCount × 32-byte segment digest
 * </pre>
 * A segment of 1024 entries is 32 KiB. With at most 2^27 blocks per image (an 8 TiB image at 64 KiB blocks)
 * the manifest blob is at most 4 MiB, well inside the store's 16 MiB object limit.
 */
public final class ManifestFormat {
    public static final int SEGMENT_ENTRIES = 1024;
    public static final long MAX_BLOCKS = 1L << 27;
    private static final int MAGIC = 0x534c4d46; // "SLMF"
    private static final int HEADER = 24;
    static final byte[] ZERO_ENTRY = new byte[BlockDigest.LENGTH];

    private ManifestFormat() {
    }

    public static long segmentCount(long blockCount) {
        return (blockCount + SEGMENT_ENTRIES - 1) / SEGMENT_ENTRIES;
    }

    public static int entriesInSegment(long blockCount, long segment) {
        return (int) Math.min(SEGMENT_ENTRIES, blockCount - segment * SEGMENT_ENTRIES);
    }

    public static byte[] encodeManifest(long blockCount, int blockSize, List<BlockDigest> segments) {
        ByteBuffer b = ByteBuffer.allocate(HEADER + segments.size() * BlockDigest.LENGTH);
        b.putInt(MAGIC).put((byte) 1).put(new byte[3]).putLong(blockCount).putInt(blockSize).putInt(segments.size());
        for (BlockDigest d : segments) {
            b.put(d.toBytes());
        }
        return b.array();
    }

    /** Parses and checks a manifest blob; throws IllegalStateException on any inconsistency. */
    public static ImageManifest decodeManifest(BlockDigest digest, byte[] blob) {
        ByteBuffer b = ByteBuffer.wrap(blob);
        if (blob.length < HEADER || b.getInt() != MAGIC || b.get() != 1) {
            throw new IllegalStateException("not a version-1 manifest: " + digest.hex());
        }
        b.position(8);
        long blockCount = b.getLong();
        int blockSize = b.getInt();
        int segments = b.getInt();
        if (blockCount < 0 || blockCount > MAX_BLOCKS || segments != segmentCount(blockCount)
                || blob.length != HEADER + (long) segments * BlockDigest.LENGTH) {
            throw new IllegalStateException("inconsistent manifest header: " + digest.hex());
        }
        BlockDigest[] segmentDigests = new BlockDigest[segments];
        byte[] entry = new byte[BlockDigest.LENGTH];
        for (int i = 0; i < segments; i++) {
            b.get(entry);
            segmentDigests[i] = BlockDigest.fromBytes(entry);
        }
        return new ImageManifest(digest, blockCount, blockSize, segmentDigests);
    }

    /** Entry {@code i} of a segment blob, or null for an all-zero block. */
    public static BlockDigest entry(byte[] segment, int i) {
        int off = i * BlockDigest.LENGTH;
        boolean zero = true;
        for (int k = 0; k < BlockDigest.LENGTH; k++) {
            if (segment[off + k] != 0) {
                zero = false;
                break;
            }
        }
        if (zero) {
            return null;
        }
        byte[] d = new byte[BlockDigest.LENGTH];
        System.arraycopy(segment, off, d, 0, BlockDigest.LENGTH);
        return BlockDigest.fromBytes(d);
    }
}

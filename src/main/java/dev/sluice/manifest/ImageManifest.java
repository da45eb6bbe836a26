package dev.sluice.manifest;

import dev.sluice.blockstore.BlockDigest;

/**
 * A committed, immutable manifest: geometry plus the digests of its segments. Block digests live in the
 * segments, which {@link ManifestReader} loads and caches on demand, so a manifest costs 32 bytes per 1024
 * blocks of heap (512 KiB for a 16 TiB image at 64 KiB blocks) until its segments are touched.
 */
public record ImageManifest(BlockDigest digest, long blockCount, int blockSize, BlockDigest[] segments) {

    public int segmentOf(long block) {
        return (int) (block / ManifestFormat.SEGMENT_ENTRIES);
    }
}

package dev.sluice.snapshot;

import dev.sluice.blockstore.BlockDigest;
import dev.sluice.blockstore.BlockStore;
import dev.sluice.image.Image;
import dev.sluice.manifest.ImageManifest;
import dev.sluice.manifest.ManifestFormat;
import dev.sluice.manifest.ManifestReader;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A snapshot's manifest = its parent's manifest with the uploaded blocks' digests put in. Only segments holding a
 * changed block are rewritten; every other segment is the parent's blob (shared, not copied). Blobs are stored
 * before the caller commits anything that names them. May block (store I/O).
 */
@ApplicationScoped
public class SnapshotManifests {
    @Inject
    BlockStore store;
    @Inject
    ManifestReader reader;

    public record Built(BlockDigest manifest, long zeroBlocks) {
    }

    /** {@code changed} sorted by block index. */
    public Built apply(String tenantId, Image parent, List<SnapshotBlock> changed) {
        ImageManifest m = reader.manifest(tenantId, BlockDigest.fromHex(parent.manifestDigest));
        List<BlockDigest> segments = new ArrayList<>(Arrays.asList(m.segments()));
        long zero = 0;
        int next = 0;
        for (int s = 0; s < segments.size(); s++) {
            byte[] blob = reader.segment(tenantId, segments.get(s));
            long first = (long) s * ManifestFormat.SEGMENT_ENTRIES;
            long end = first + ManifestFormat.entriesInSegment(m.blockCount(), s);
            if (next < changed.size() && changed.get(next).blockIndex < end) {
                blob = blob.clone();
                for (; next < changed.size() && changed.get(next).blockIndex < end; next++) {
                    SnapshotBlock b = changed.get(next);
                    byte[] entry = b.digest == null ? new byte[BlockDigest.LENGTH] : BlockDigest.fromHex(b.digest).toBytes();
                    System.arraycopy(entry, 0, blob, (int) (b.blockIndex - first) * BlockDigest.LENGTH, BlockDigest.LENGTH);
                }
                BlockDigest d = BlockDigest.of(blob);
                store.put(tenantId, d, blob);
                segments.set(s, d);
            }
            for (int k = 0; k < blob.length / BlockDigest.LENGTH; k++) {
                if (ManifestFormat.entry(blob, k) == null) {
                    zero++;
                }
            }
        }
        byte[] manifest = ManifestFormat.encodeManifest(m.blockCount(), m.blockSize(), segments);
        BlockDigest digest = BlockDigest.of(manifest);
        store.put(tenantId, digest, manifest);
        return new Built(digest, zero);
    }
}

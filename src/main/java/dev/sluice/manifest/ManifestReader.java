package dev.sluice.manifest;

import dev.sluice.blockstore.BlockDigest;
import dev.sluice.blockstore.BlockStore;
import dev.sluice.platform.cache.WeightedLru;
import dev.sluice.platform.problem.ApiException;
import dev.sluice.platform.problem.ProblemType;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Reads committed manifests and their segments from the block store, with caches: manifests and segments are
 * immutable and content-addressed, so a cached copy can never be stale. Keys include the tenant, so one tenant's
 * cached segment never stands in for a block missing from another tenant's store.
 *
 * <p>May block (store reads on a miss): call from a worker thread.
 */
@ApplicationScoped
public class ManifestReader {
    private record Key(String tenant, BlockDigest digest) {
    }

    @Inject
    BlockStore store;

    private final WeightedLru<Key, ImageManifest> manifests;
    private final WeightedLru<Key, byte[]> segments;

    @Inject
    public ManifestReader(@ConfigProperty(name = "sluice.manifest.cache-bytes", defaultValue = "67108864") long cacheBytes) {
        this.manifests = new WeightedLru<>(cacheBytes / 4, m -> 64L + 32L * m.segments().length);
        this.segments = new WeightedLru<>(cacheBytes, s -> s.length + 64L);
    }

    public ImageManifest manifest(String tenantId, BlockDigest digest) {
        Key key = new Key(tenantId, digest);
        ImageManifest m = manifests.get(key);
        if (m == null) {
            byte[] blob = store.get(tenantId, digest).orElseThrow(() -> missing("manifest", digest));
            m = ManifestFormat.decodeManifest(digest, blob);
            manifests.put(key, m);
        }
        return m;
    }

    /** The digest of block {@code index}, or null for an all-zero block. */
    public BlockDigest blockDigest(String tenantId, ImageManifest manifest, long index) {
        if (index < 0 || index >= manifest.blockCount()) {
            throw new IndexOutOfBoundsException("block " + index);
        }
        int segment = manifest.segmentOf(index);
        return ManifestFormat.entry(segment(tenantId, manifest.segments()[segment]), (int) (index % ManifestFormat.SEGMENT_ENTRIES));
    }

    /** A manifest entry: the block's digest, or null digest for an all-zero block. */
    public record Entry(BlockDigest digest) {
    }

    /** The entry if its segment is cached (never blocks), else null. */
    public Entry cachedBlockDigest(String tenantId, ImageManifest manifest, long index) {
        byte[] s = segments.get(new Key(tenantId, manifest.segments()[manifest.segmentOf(index)]));
        return s == null ? null : new Entry(ManifestFormat.entry(s, (int) (index % ManifestFormat.SEGMENT_ENTRIES)));
    }

    public byte[] segment(String tenantId, BlockDigest digest) {
        Key key = new Key(tenantId, digest);
        byte[] s = segments.get(key);
        if (s == null) {
            s = store.get(tenantId, digest).orElseThrow(() -> missing("manifest segment", digest));
            segments.put(key, s);
        }
        return s;
    }

    private static ApiException missing(String what, BlockDigest digest) {
        return new ApiException(ProblemType.INTEGRITY, what + " " + digest.hex() + " is missing from the block store");
    }
}

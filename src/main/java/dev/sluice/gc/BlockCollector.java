package dev.sluice.gc;

import dev.sluice.blockstore.BlockDigest;
import dev.sluice.blockstore.BlockStore;
import dev.sluice.blockstore.StoredBlock;
import dev.sluice.image.Image;
import dev.sluice.manifest.ImageManifest;
import dev.sluice.manifest.ManifestFormat;
import dev.sluice.manifest.ManifestReader;
import dev.sluice.upload.UploadActivity;
import dev.sluice.upload.UploadSegment;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.runtime.StartupEvent;
import io.vertx.core.Vertx;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * Garbage collection of blocks no manifest references (mark and sweep, per tenant).
 *
 * <p>Mark: every committed manifest of the tenant (the manifest blob, its segments, their block digests) and
 * every recorded segment of uploads in progress. Sweep: a stored block that is not marked and is older than
 * the grace period is deleted. Why this is safe: (1) a block an upload stored is referenced by a segment row
 * within seconds, and the grace period (default 1 h) covers that window; (2) an upload that finds a block
 * already present does not rewrite it, so an old garbage block can become referenced again at any moment:
 * the collector therefore does not run while an upload is active on this replica. With several replicas the
 * second rule needs a shared lease (not yet built): run the collector on one replica only.
 */
@ApplicationScoped
public class BlockCollector {
    private static final Logger LOG = Logger.getLogger(BlockCollector.class);

    @Inject
    BlockStore store;
    @Inject
    ManifestReader manifests;
    @Inject
    UploadActivity uploads;
    @Inject
    Vertx vertx;

    @ConfigProperty(name = "sluice.gc.grace", defaultValue = "PT1H")
    Duration grace;
    @ConfigProperty(name = "sluice.gc.interval", defaultValue = "PT1H")
    Duration interval;

    private final AtomicBoolean running = new AtomicBoolean();

    /** What one collection did. */
    public record Result(String tenantId, long referenced, long scanned, long deleted, long deletedBytes, boolean skipped) {
    }

    void schedule(@Observes StartupEvent event) {
        if (!interval.isZero() && !interval.isNegative()) {
            vertx.setPeriodic(interval.toMillis(), id -> collectAllLater());
        }
    }

    /** Collects one tenant in the background (after an image is deleted). */
    public void collectLater(String tenantId) {
        vertx.executeBlocking(() -> collect(tenantId), false)
                .onFailure(e -> LOG.warnf(e, "block collection for tenant %s failed", tenantId));
    }

    private void collectAllLater() {
        vertx.executeBlocking(() -> {
            List<String> tenants = QuarkusTransaction.requiringNew().call(() ->
                    dev.sluice.tenant.Tenant.<dev.sluice.tenant.Tenant>listAll().stream().map(t -> t.id).toList());
            tenants.forEach(this::collect);
            return null;
        }, false).onFailure(e -> LOG.warn("periodic block collection failed", e));
    }

    /** May block for long: call from a worker. */
    public Result collect(String tenantId) {
        if (!running.compareAndSet(false, true)) {
            return new Result(tenantId, 0, 0, 0, 0, true);
        }
        try {
            if (uploads.anyActive()) {
                LOG.debugf("block collection for %s skipped: an upload is running", tenantId);
                return new Result(tenantId, 0, 0, 0, 0, true);
            }
            Instant startedAt = Instant.now();
            // Blocks a snapshot upload received but has not committed yet are referenced by their upload. Read before the
            // images: a commit in between moves them from here into a manifest that the image list then includes.
            List<String> snapshotBlocks = QuarkusTransaction.requiringNew().call(() ->
                    dev.sluice.snapshot.SnapshotUploadService.pendingDigests(tenantId));
            List<Image> images = QuarkusTransaction.requiringNew().call(() ->
                    Image.<Image>list("tenantId = ?1 and manifestDigest is not null", tenantId));
            List<UploadSegment> pending = QuarkusTransaction.requiringNew().call(() -> UploadSegment.<UploadSegment>list("tenantId", tenantId));
            long expected = pending.size() * (long) ManifestFormat.SEGMENT_ENTRIES + snapshotBlocks.size() + 1024;
            for (Image i : images) {
                expected += i.blockCount() + ManifestFormat.segmentCount(i.blockCount()) + 1;
            }
            DigestFilter referenced = new DigestFilter(expected);
            long marked = 0;
            for (Image i : images) {
                BlockDigest manifestDigest = BlockDigest.fromHex(i.manifestDigest);
                referenced.add(manifestDigest);
                ImageManifest m = manifests.manifest(tenantId, manifestDigest);
                for (BlockDigest segment : m.segments()) {
                    marked += markSegment(tenantId, segment, referenced);
                }
            }
            for (UploadSegment s : pending) {
                marked += markSegment(tenantId, BlockDigest.fromHex(s.digest), referenced);
            }
            for (String d : snapshotBlocks) {
                referenced.add(BlockDigest.fromHex(d));
                marked++;
            }
            Instant cutoff = startedAt.minus(grace);
            long scanned = 0;
            long deleted = 0;
            long bytes = 0;
            try (Stream<StoredBlock> blocks = store.blocks(tenantId)) {
                for (StoredBlock b : (Iterable<StoredBlock>) blocks::iterator) {
                    scanned++;
                    if (!referenced.mightContain(b.digest()) && b.storedAt().isBefore(cutoff) && !uploads.anyActive()) {
                        store.delete(tenantId, b.digest());
                        deleted++;
                        bytes += b.sizeBytes();
                    }
                }
            }
            Result r = new Result(tenantId, marked, scanned, deleted, bytes, false);
            if (deleted > 0) {
                LOG.infof("block collection for %s: %d referenced, %d stored, %d deleted (%d bytes)", tenantId, marked, scanned, deleted, bytes);
            }
            return r;
        } finally {
            running.set(false);
        }
    }

    private long markSegment(String tenantId, BlockDigest segment, DigestFilter referenced) {
        referenced.add(segment);
        byte[] entries = manifests.segment(tenantId, segment);
        long n = 0;
        for (int k = 0; k < entries.length / BlockDigest.LENGTH; k++) {
            BlockDigest d = ManifestFormat.entry(entries, k);
            if (d != null) {
                referenced.add(d);
                n++;
            }
        }
        return n;
    }
}

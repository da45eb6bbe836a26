package dev.sluice.blockstream;

import dev.sluice.blockstore.BlockDigest;
import dev.sluice.blockstore.BlockStore;
import dev.sluice.blockstore.CachingBlockStore;
import dev.sluice.platform.cache.WeightedLru;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * Reads a whole image into the verified-block cache, in the background, the first time one of its blocks misses
 * the cache. A disk that is being read (a machine booting, qemu converting, an agent fetching) is usually read
 * again soon and all over; without this, every first touch of a block makes one reader wait for a store read and a
 * SHA-256 of the whole block, however few bytes it asked for. Warming uses the same verified path as any reader
 * ({@link ImageContent#block}), so it only ever caches bytes read from the store and verified.
 *
 * <p>Only images up to {@code sluice.blockstream.warm-max-bytes} are warmed (default: half of the block
 * cache, so one image cannot push out everything else), each at most once per {@link #WARMED_IMAGES} images
 * remembered; 0 disables warming. Two sequential passes over the two halves of the image keep the store busy
 * without taking every worker thread.
 */
@ApplicationScoped
public class ImageWarmer {
    private static final Logger LOG = Logger.getLogger(ImageWarmer.class);
    static final int WARMED_IMAGES = 4096;
    private static final int PASSES = 2;

    @Inject
    ImageContent content;
    @Inject
    BlockReadPool readPool;

    private final long maxBytes;
    /** Images whose warming has started (by id and manifest: new content is a new image to warm). */
    private final WeightedLru<String, Boolean> started = new WeightedLru<>(WARMED_IMAGES, b -> 1);

    @Inject
    public ImageWarmer(BlockStore store, @ConfigProperty(name = "sluice.blockstream.warm-max-bytes") Optional<Long> maxBytes) {
        long capacity = store instanceof CachingBlockStore caching ? caching.capacityBytes() : 0;
        this.maxBytes = capacity == 0 ? 0 : maxBytes.orElse(capacity / 2);
    }

    /** A block of {@code image} missed the cache: start warming the image unless it is too big or already started. */
    void missed(ServedImage image) {
        if (image.sizeBytes() > maxBytes) {
            return;
        }
        String key = image.id() + "@" + image.etag();
        synchronized (started) {
            if (started.get(key) != null) {
                return;
            }
            started.put(key, Boolean.TRUE);
        }
        long blocks = image.blockCount();
        long perPass = Math.max(1, (blocks + PASSES - 1) / PASSES);
        AtomicInteger running = new AtomicInteger((int) ((blocks + perPass - 1) / perPass));
        long startedAt = System.nanoTime();
        for (long from = 0; from < blocks; from += perPass) {
            long start = from;
            long end = Math.min(blocks, from + perPass);
            readPool.execute(() -> {
                if (warm(image, start, end) && running.decrementAndGet() == 0) {
                    LOG.infof("image %s (%d MiB) warmed into the block cache in %d ms", image.id(), image.sizeBytes() >> 20,
                            (System.nanoTime() - startedAt) / 1_000_000);
                }
            });
        }
    }

    /** Worker thread: loads blocks [from, end) through the verified path; false if it stopped at a failure. */
    private boolean warm(ServedImage image, long from, long end) {
        for (long i = from; i < end; i++) {
            try {
                BlockDigest digest = content.digest(image, i);
                if (digest != null) {
                    content.block(image, i, digest);
                }
            } catch (RuntimeException e) {
                // A corrupt or missing block was already reported by the store; readers get the error themselves.
                LOG.debugf("warming image %s stopped at block %d: %s", image.id(), i, e.getMessage());
                return false;
            }
        }
        return true;
    }
}

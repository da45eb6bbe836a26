package dev.sluice.blockstore;

import io.netty.util.internal.PlatformDependent;
import jakarta.enterprise.inject.Disposes;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import org.jboss.logging.Logger;

/**
 * Makes the configured {@link BlockStore} a CDI bean. Thin on purpose: the stores are plain classes that tests
 * construct directly, and {@link #create} is plain Java too.
 */
@Singleton
public class BlockStoreProducer {
    private static final Logger LOG = Logger.getLogger(BlockStoreProducer.class);

    /** The shared corrupt-block counter, for a later metrics exporter. */
    @Produces
    @Singleton
    CorruptBlockLog corruptBlockLog() {
        return new CorruptBlockLog();
    }

    /**
     * Singleton, not application-scoped: a normal scope would hand out a client proxy, and the data plane needs
     * the real object to reach the cache's non-blocking lookups ({@code instanceof CachingBlockStore}).
     */
    @Produces
    @Singleton
    BlockStore blockStore(BlockStoreConfig config, CorruptBlockLog corruptBlocks,
                          @org.eclipse.microprofile.config.inject.ConfigProperty(name = "sluice.blockstore.cache-bytes") java.util.Optional<Long> cacheBytes) {
        BlockStore store = create(config, corruptBlocks);
        // The cache lives in direct memory. Default: half of the JVM's direct-memory limit (which is the maximum heap
        // unless -XX:MaxDirectMemorySize says otherwise), at most 4 GiB; the other half leaves room for the network
        // stack and for evicted blocks that the garbage collector has not freed yet.
        long capacity = cacheBytes.orElse(Math.min(4L << 30, PlatformDependent.maxDirectMemory() / 2));
        LOG.infof("block cache: %d MiB of verified blocks, off-heap", capacity >> 20);
        return capacity > 0 ? new CachingBlockStore(store, capacity) : store;
    }

    void close(@Disposes BlockStore store) {
        store.close();
    }

    /**
     * The store that {@code config} selects. Does not contact S3.
     *
     * @throws IllegalArgumentException if the configuration is incomplete or invalid (the message names the key)
     */
    static BlockStore create(BlockStoreConfig config, CorruptBlockLog corruptBlocks) {
        switch (config.kind()) {
            case FILE -> {
                FileBlockStore store = new FileBlockStore(Path.of(config.dir()), corruptBlocks);
                LOG.infof("block store: files under %s", store.root());
                return store;
            }
            case S3 -> {
                BlockStoreConfig.S3 s3 = config.s3();
                S3BlockStore.Settings settings = new S3BlockStore.Settings(
                        s3.endpoint().filter(e -> !e.isBlank()).map(BlockStoreProducer::endpointUri),
                        s3.region(),
                        s3.bucket().orElse(null),
                        s3.prefix().orElse(""),
                        s3.pathStyle(),
                        s3.accessKey().filter(k -> !k.isBlank()),
                        s3.secretKey().filter(k -> !k.isBlank()));
                LOG.infof("block store: %s", settings);
                return S3BlockStore.connect(settings, corruptBlocks);
            }
            default -> throw new IllegalStateException("unknown block store kind " + config.kind());
        }
    }

    private static URI endpointUri(String endpoint) {
        try {
            URI uri = new URI(endpoint);
            if (uri.getScheme() == null || uri.getHost() == null
                    || !(uri.getScheme().equals("http") || uri.getScheme().equals("https"))) {
                throw new IllegalArgumentException("sluice.blockstore.s3.endpoint must be an http(s) URL");
            }
            return uri;
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("sluice.blockstore.s3.endpoint is not a URL");
        }
    }
}

package dev.sluice.blockstream;

import dev.sluice.blockstore.BlockDigest;
import dev.sluice.blockstore.BlockStore;
import dev.sluice.blockstore.CachingBlockStore;
import dev.sluice.blockstore.ZeroBlocks;
import dev.sluice.image.Image;
import dev.sluice.image.ImageState;
import dev.sluice.machine.Machine;
import dev.sluice.manifest.ManifestReader;
import dev.sluice.platform.cache.WeightedLru;
import dev.sluice.platform.problem.ApiException;
import dev.sluice.platform.problem.ProblemType;
import io.quarkus.narayana.jta.QuarkusTransaction;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.nio.ByteBuffer;
import java.util.Optional;

/**
 * Reads committed image content: which image, which block digest, which bytes. Every byte returned was verified
 * against its digest by the store (or is a synthesized zero block). All methods may block: call from a worker.
 */
@ApplicationScoped
public class ImageContent {
    /** How long a replica may keep serving an image after it was deleted elsewhere. */
    private static final long IMAGE_CACHE_MILLIS = 10_000;

    private record CachedImage(ServedImage image, long loadedAt) {
    }

    @Inject
    BlockStore store;
    @Inject
    ManifestReader manifests;

    private final WeightedLru<String, CachedImage> images = new WeightedLru<>(4096, c -> 1);

    /** The image if it exists, is AVAILABLE and belongs to {@code tenantId} (null: any tenant, for signed URLs). */
    public ServedImage image(String tenantId, String imageId) {
        CachedImage c = images.get(imageId);
        if (c == null || System.currentTimeMillis() - c.loadedAt() > IMAGE_CACHE_MILLIS) {
            Image image = QuarkusTransaction.requiringNew().call(() -> Image.<Image>findById(imageId));
            if (image == null) {
                throw ApiException.notFound("image " + imageId);
            }
            if (image.state != ImageState.AVAILABLE) {
                if (tenantId != null && !tenantId.equals(image.tenantId)) {
                    throw ApiException.notFound("image " + imageId);
                }
                throw new ApiException(ProblemType.CONFLICT, "the image is " + image.state.wire() + "; its content is not available");
            }
            ServedImage served = new ServedImage(image.id, image.tenantId, image.sizeBytes, image.blockSize,
                    manifests.manifest(image.tenantId, BlockDigest.fromHex(image.manifestDigest)));
            c = new CachedImage(served, System.currentTimeMillis());
            images.put(imageId, c);
        }
        if (tenantId != null && !tenantId.equals(c.image().tenantId())) {
            throw ApiException.notFound("image " + imageId);
        }
        return c.image();
    }

    /** Forgets a cached image (after delete on this replica). */
    public void forget(String imageId) {
        images.remove(imageId);
    }

    /** True if machine credential {@code machineId} may read {@code imageId} (its assigned image). */
    public boolean machineMayRead(String tenantId, String machineId, String imageId) {
        return QuarkusTransaction.requiringNew().call(() -> {
            Machine m = Machine.find("id = ?1 and tenantId = ?2", machineId, tenantId).firstResult();
            return m != null && imageId.equals(m.imageId);
        });
    }

    /** A block available without blocking: its digest (null for zeros) and its bytes (see {@link #block}). */
    public record Cached(BlockDigest digest, ByteBuffer bytes) {
    }

    /**
     * The block if its manifest segment and its bytes are in memory, else null. Never blocks: safe on the event
     * loop. The bytes were verified when they entered the cache.
     */
    public Cached cached(ServedImage image, long index) {
        ManifestReader.Entry entry = manifests.cachedBlockDigest(image.tenantId(), image.manifest(), index);
        if (entry == null) {
            return null;
        }
        if (entry.digest() == null) {
            return new Cached(null, ZeroBlocks.direct(image.blockLength(index)));
        }
        if (!(store instanceof CachingBlockStore caching)) {
            return null;
        }
        ByteBuffer bytes = caching.peek(image.tenantId(), entry.digest());
        return bytes == null || bytes.remaining() != image.blockLength(index) ? null : new Cached(entry.digest(), bytes);
    }

    /** The served image if cached and fresh, else null. Never blocks. */
    public ServedImage cachedImage(String imageId) {
        CachedImage c = images.get(imageId);
        return c == null || System.currentTimeMillis() - c.loadedAt() > IMAGE_CACHE_MILLIS ? null : c.image();
    }

    /** The digest of a block, or null for an all-zero block. */
    public BlockDigest digest(ServedImage image, long index) {
        return manifests.blockDigest(image.tenantId(), image.manifest(), index);
    }

    /**
     * The bytes of block {@code index}, exactly {@link ServedImage#blockLength} of them from position 0, verified
     * (or synthesized zeros). The buffer is a read-only view that may share its memory with the block cache and
     * other responses, and is usually direct: hand it to the socket as it is.
     */
    public ByteBuffer block(ServedImage image, long index, BlockDigest digest) {
        if (digest == null) {
            return ZeroBlocks.direct(image.blockLength(index));
        }
        Optional<ByteBuffer> bytes = store instanceof CachingBlockStore caching
                ? caching.getShared(image.tenantId(), digest)
                : store.get(image.tenantId(), digest).map(b -> ByteBuffer.wrap(b).asReadOnlyBuffer());
        ByteBuffer b = bytes.orElseThrow(() -> new ApiException(ProblemType.INTEGRITY,
                "block " + index + " (" + digest.hex() + ") is missing from the block store"));
        if (b.remaining() != image.blockLength(index)) {
            throw new ApiException(ProblemType.INTEGRITY, "block " + index + " has " + b.remaining() + " bytes, expected " + image.blockLength(index));
        }
        return b;
    }
}

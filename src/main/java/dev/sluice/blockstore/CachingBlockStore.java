package dev.sluice.blockstore;

import dev.sluice.platform.cache.WeightedLru;
import java.nio.ByteBuffer;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * A read cache of <em>verified</em> block contents in front of another store. Blocks are immutable and
 * content-addressed, so a cached copy is never stale; only bytes that passed the inner store's digest check are
 * cached, so serving from the cache keeps the "never serve unverified bytes" guarantee. Deletes invalidate.
 *
 * <p>Blocks are kept off the heap, in read-only direct buffers: the data plane sends slices of them to the socket
 * as they are (a heap array would be copied into a direct buffer on every write), and a cache of gigabytes does
 * not weigh on the garbage collector. An evicted buffer is freed by the JDK once no response still writes it, so
 * eviction never pulls bytes from under a write. {@link #get} still returns a private heap copy.
 */
public final class CachingBlockStore implements BlockStore {
    private record Key(String tenant, BlockDigest digest) {
    }

    private final BlockStore inner;
    private final long capacityBytes;
    private final WeightedLru<Key, ByteBuffer> cache;

    public CachingBlockStore(BlockStore inner, long capacityBytes) {
        this.inner = inner;
        this.capacityBytes = capacityBytes;
        this.cache = new WeightedLru<>(capacityBytes, b -> b.capacity() + 128L);
    }

    /** How many bytes of blocks the cache holds at most. */
    public long capacityBytes() {
        return capacityBytes;
    }

    @Override
    public boolean put(String tenantId, BlockDigest digest, ByteBuffer content) {
        return inner.put(tenantId, digest, content);
    }

    @Override
    public BlockBatch batch(String tenantId, java.util.concurrent.Executor io, int inFlight) {
        return inner.batch(tenantId, io, inFlight);
    }

    @Override
    public Optional<byte[]> get(String tenantId, BlockDigest digest) {
        ByteBuffer hit = cache.get(new Key(tenantId, digest));
        if (hit != null) {
            byte[] copy = new byte[hit.capacity()];
            hit.get(0, copy);
            return Optional.of(copy);
        }
        Optional<byte[]> loaded = inner.get(tenantId, digest);
        loaded.ifPresent(bytes -> cache.put(new Key(tenantId, digest), offHeap(bytes)));
        return loaded;
    }

    /**
     * The block as a read-only direct buffer shared with the cache (position 0, limit = block length), loading and
     * verifying it on a miss. May block on a miss.
     */
    public Optional<ByteBuffer> getShared(String tenantId, BlockDigest digest) {
        Key key = new Key(tenantId, digest);
        ByteBuffer hit = cache.get(key);
        if (hit != null) {
            return Optional.of(hit.duplicate());
        }
        return inner.get(tenantId, digest).map(bytes -> {
            ByteBuffer b = offHeap(bytes);
            cache.put(key, b);
            return b.duplicate();
        });
    }

    /** The cached, verified block (a read-only view shared with the cache) or null; never blocks. */
    public ByteBuffer peek(String tenantId, BlockDigest digest) {
        ByteBuffer hit = cache.get(new Key(tenantId, digest));
        return hit == null ? null : hit.duplicate();
    }

    private static ByteBuffer offHeap(byte[] verified) {
        return ByteBuffer.allocateDirect(verified.length).put(verified).flip().asReadOnlyBuffer();
    }

    @Override
    public boolean exists(String tenantId, BlockDigest digest) {
        return cache.get(new Key(tenantId, digest)) != null || inner.exists(tenantId, digest);
    }

    @Override
    public void delete(String tenantId, BlockDigest digest) {
        cache.remove(new Key(tenantId, digest));
        inner.delete(tenantId, digest);
    }

    @Override
    public Stream<StoredBlock> blocks(String tenantId) {
        return inner.blocks(tenantId);
    }

    @Override
    public void close() {
        inner.close();
    }
}

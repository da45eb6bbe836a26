package dev.sluice.blockstore;

import dev.sluice.platform.cache.WeightedLru;
import java.nio.ByteBuffer;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * A read cache of <em>verified</em> block contents in front of another store. Blocks are immutable and
 * content-addressed, so a cached copy is never stale; only bytes that passed the inner store's digest check are
 * cached, so serving from the cache keeps the "never serve unverified bytes" guarantee. Deletes invalidate.
 * Callers get their own copy (the cache's arrays never escape).
 */
public final class CachingBlockStore implements BlockStore {
    private record Key(String tenant, BlockDigest digest) {
    }

    private final BlockStore inner;
    private final WeightedLru<Key, byte[]> cache;

    public CachingBlockStore(BlockStore inner, long capacityBytes) {
        this.inner = inner;
        this.cache = new WeightedLru<>(capacityBytes, b -> b.length + 96L);
    }

    @Override
    public boolean put(String tenantId, BlockDigest digest, ByteBuffer content) {
        return inner.put(tenantId, digest, content);
    }

    @Override
    public Optional<byte[]> get(String tenantId, BlockDigest digest) {
        Key key = new Key(tenantId, digest);
        byte[] hit = cache.get(key);
        if (hit != null) {
            return Optional.of(hit.clone());
        }
        Optional<byte[]> loaded = inner.get(tenantId, digest);
        loaded.ifPresent(bytes -> cache.put(key, bytes.clone()));
        return loaded;
    }

    /**
     * Zero-copy read for the streaming data plane: the returned array is shared with the cache and must not be
     * modified.
     */
    public Optional<byte[]> getShared(String tenantId, BlockDigest digest) {
        Key key = new Key(tenantId, digest);
        byte[] hit = cache.get(key);
        if (hit != null) {
            return Optional.of(hit);
        }
        Optional<byte[]> loaded = inner.get(tenantId, digest);
        loaded.ifPresent(bytes -> cache.put(key, bytes));
        return loaded;
    }

    /** The cached, verified bytes (shared: never modify) or null; never touches the inner store, never blocks. */
    public byte[] peek(String tenantId, BlockDigest digest) {
        return cache.get(new Key(tenantId, digest));
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

    /** Drops every cached copy (tests corrupt the inner store behind the cache's back). */
    public void clear(String tenantId, BlockDigest digest) {
        cache.remove(new Key(tenantId, digest));
    }
}

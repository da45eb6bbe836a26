package dev.sluice.snapshot;

import dev.sluice.blockstore.BlockDigest;
import dev.sluice.blockstore.BlockStore;
import dev.sluice.blockstore.DigestMismatchException;
import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;

/**
 * The block puts of one snapshot batch, at most {@link #MAX_IN_FLIGHT} at a time on a shared pool, while the caller
 * reads the next frames. A file store fsyncs every block and its directory: one put after the other spends most
 * of a batch waiting for the disk, several at once let the disk work on them together (the content upload does the
 * same, {@code UploadPipeline}). Heap: at most MAX_IN_FLIGHT blocks beyond the one being read.
 *
 * <p>Used by one request thread; {@link #awaitAll} returns once every put is durable (or throws the first failure).
 * Blocks stored before a later frame turns out bad stay stored: they are content-addressed, referenced by nothing,
 * and garbage collection removes them like the leftovers of any failed upload.
 */
final class StorePipeline {
    static final int MAX_IN_FLIGHT = 8;

    private record Put(BlockDigest digest, CompletableFuture<Boolean> stored) {
    }

    private final BlockStore store;
    private final String tenantId;
    private final Executor pool;
    private final ArrayDeque<Put> inFlight = new ArrayDeque<>();
    private final Set<BlockDigest> stored = new HashSet<>();

    StorePipeline(BlockStore store, String tenantId, Executor pool) {
        this.store = store;
        this.tenantId = tenantId;
        this.pool = pool;
    }

    /**
     * Starts storing a block under the digest its frame claims; may first wait for the oldest put if MAX_IN_FLIGHT
     * are running. The store's put hashes the bytes and refuses them if they do not match (nothing stored), so this
     * is where a frame's digest is verified: one SHA-256 per block, on the pool. A mismatch surfaces from
     * {@link #put} or {@link #awaitAll} as {@code mismatch}'s exception.
     */
    void put(BlockDigest digest, byte[] data, java.util.function.Supplier<RuntimeException> mismatch) {
        while (inFlight.size() >= MAX_IN_FLIGHT) {
            finishOldest();
        }
        inFlight.add(new Put(digest, CompletableFuture.supplyAsync(() -> {
            try {
                return store.put(tenantId, digest, data);
            } catch (DigestMismatchException e) {
                throw mismatch.get();
            }
        }, pool)));
    }

    /** Waits until every put started is durable; rethrows the first failure (a store error). */
    void awaitAll() {
        while (!inFlight.isEmpty()) {
            finishOldest();
        }
    }

    /** After a failure: stop waiting for the rest (puts already running finish on their own). */
    void cancelRest() {
        inFlight.forEach(p -> p.stored().cancel(false));
        inFlight.clear();
    }

    /** Digests this pipeline stored afresh (absent before), once each. Complete after {@link #awaitAll}. */
    Set<BlockDigest> stored() {
        return stored;
    }

    private void finishOldest() {
        Put p = inFlight.removeFirst();
        try {
            if (p.stored().get()) {
                stored.add(p.digest());
            }
        } catch (ExecutionException | java.util.concurrent.CompletionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CancellationException("interrupted while storing blocks");
        }
    }
}

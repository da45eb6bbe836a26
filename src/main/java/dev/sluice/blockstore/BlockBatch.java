package dev.sluice.blockstore;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;

/**
 * Several blocks stored together, made durable together: {@link #add} starts storing a block (on the executor given
 * to {@link BlockStore#batch}), {@link #commit} returns once every added block is durable. A backend may use that
 * to share its syncs between the blocks (the file store writes every block's file first, then syncs them, then
 * renames them into place, then syncs each directory once) instead of paying them block by block.
 *
 * <p>The same guarantees as {@link BlockStore#put} per block: bytes verified against the digest before anything is
 * stored ({@link DigestMismatchException} from {@code add} or {@code commit}, nothing of that block stored), a block
 * either absent or complete after a crash at any instant, durable once {@code commit} returns. Blocks stored by a
 * batch that then fails stay stored (content-addressed, referenced by nothing: garbage collection removes them).
 * Used by one thread.
 */
public interface BlockBatch {

    /** Starts storing a block; may wait while the batch has as many blocks in progress as it allows. */
    void add(BlockDigest digest, byte[] content);

    /**
     * Waits until every block added is durable. Returns, per block in the order added, whether it was absent when
     * the batch looked and the batch stored it (as {@link BlockStore#put} answers).
     *
     * @throws DigestMismatchException if a block did not match its digest (or another store failure)
     */
    boolean[] commit();

    /** After a failure: stop waiting for blocks in progress (they finish or fail on their own). */
    void abandon();

    /** Unwraps the failure of an asynchronous step as the store's exception. */
    static RuntimeException unwrap(Throwable t) {
        Throwable c = (t instanceof ExecutionException || t instanceof java.util.concurrent.CompletionException) && t.getCause() != null
                ? t.getCause() : t;
        if (c instanceof RuntimeException r) {
            return r;
        }
        if (c instanceof InterruptedException) {
            Thread.currentThread().interrupt();
            return new CancellationException("interrupted while storing blocks");
        }
        return new BlockStoreException("cannot store blocks", c);
    }

    /** The default: one {@link BlockStore#put} per block, {@code inFlight} at a time. */
    final class PutEach implements BlockBatch {
        private final BlockStore store;
        private final String tenantId;
        private final Executor io;
        private final int inFlight;
        private final List<CompletableFuture<Boolean>> puts = new ArrayList<>();
        private int done;

        public PutEach(BlockStore store, String tenantId, Executor io, int inFlight) {
            this.store = store;
            this.tenantId = tenantId;
            this.io = io;
            this.inFlight = inFlight;
        }

        @Override
        public void add(BlockDigest digest, byte[] content) {
            while (puts.size() - done >= inFlight) {
                join(puts.get(done++));
            }
            puts.add(CompletableFuture.supplyAsync(() -> store.put(tenantId, digest, content), io));
        }

        @Override
        public boolean[] commit() {
            boolean[] fresh = new boolean[puts.size()];
            for (int i = 0; i < puts.size(); i++) {
                fresh[i] = join(puts.get(i));
            }
            return fresh;
        }

        @Override
        public void abandon() {
            puts.forEach(p -> p.cancel(false));
        }

        private static boolean join(CompletableFuture<Boolean> f) {
            try {
                return f.get();
            } catch (ExecutionException | InterruptedException e) {
                throw unwrap(e);
            }
        }
    }
}

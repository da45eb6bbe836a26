package dev.sluice.agent.engine;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/*
 * Design notes (demand fetcher).
 *
 * Serves guest misses. Single-flight: the first reader of an absent block claims it in `inflight`
 * (one CompletableFuture per block being fetched, so memory is proportional to blocks in flight, not to
 * the disk) and fetches a run of consecutive absent, unclaimed blocks on its own thread; concurrent
 * readers of those blocks wait on the futures, bounded by the fetch timeout. A miss at the block right
 * after the previous miss run is sequential: the run is extended by `readAheadBlocks` (capped by the
 * wire's 256 blocks / 64 MiB per request). Given an executor, such a run is streamed on it and the
 * reader returns as soon as its own blocks are installed (the engine still creates no threads).
 *
 * Demand never waits for the prefetcher: prefetch does not claim blocks here, so a guest miss on a block
 * the prefetcher is streaming fetches it again itself; whichever install comes first wins.
 */
final class DemandFetcher {

    static final int MAX_RUN_BLOCKS = 256;
    static final long MAX_RUN_BYTES = 64L << 20;

    private final BlockEngine engine;
    private final BlockSource source;
    private final Clock clock;
    private final BlockEngine.Settings settings;
    private final ConcurrentHashMap<Long, CompletableFuture<Void>> inflight = new ConcurrentHashMap<>();
    private volatile long nextSequential = -1;
    private final Executor readAheadExecutor;

    DemandFetcher(BlockEngine engine, BlockSource source, Clock clock, BlockEngine.Settings settings, Executor readAheadExecutor) {
        this.engine = engine;
        this.readAheadExecutor = readAheadExecutor;
        this.source = source;
        this.clock = clock;
        this.settings = settings;
    }

    /** On normal return blocks {@code first..last} are present. Blocks on the network; takes no engine lock while waiting. */
    void ensurePresent(long first, long last, boolean readAhead) throws FetchFailedException {
        BlockMap map = engine.map();
        long deadline = clock.nanoTime() + settings.fetchTimeoutNanos();
        List<CompletableFuture<Void>> waits = new ArrayList<>();
        for (int attempt = 0; ; attempt++) {
            waits.clear();
            long b = first;
            while (b <= last) {
                if (map.isPresent(b)) {
                    b++;
                    continue;
                }
                CompletableFuture<Void> theirs = inflight.get(b);
                if (theirs != null) {
                    waits.add(theirs);
                    b++;
                    continue;
                }
                b = fetchRun(b, last, readAhead, deadline) + 1;
            }
            for (CompletableFuture<Void> f : waits) await(f, deadline);
            long missing = firstAbsent(first, last);
            if (missing < 0) return;
            // A run we waited on was cut short (its fetcher failed or timed out): try ourselves once more.
            if (attempt >= 1 || clock.nanoTime() >= deadline) {
                throw new FetchFailedException("block " + missing + " could not be fetched", null);
            }
        }
    }

    private long firstAbsent(long first, long last) {
        for (long b = first; b <= last; b++) if (!engine.map().isPresent(b)) return b;
        return -1;
    }

    /**
     * Claims and fetches a run starting at absent block {@code start}; returns the last block of the
     * requested range ({@code <= last}) that this run covered.
     */
    private long fetchRun(long start, long last, boolean readAhead, long deadline) throws FetchFailedException {
        Geometry g = engine.geometry();
        BlockMap map = engine.map();
        long limit = last;
        if (readAhead && start == nextSequential) limit = last + settings.readAheadBlocks();
        long maxBlocks = Math.min(MAX_RUN_BLOCKS, Math.max(1, MAX_RUN_BYTES / g.blockSize()));
        limit = Math.min(Math.min(limit, start + maxBlocks - 1), g.blockCount() - 1);
        List<CompletableFuture<Void>> mine = new ArrayList<>();
        long end = start - 1;
        for (long b = start; b <= limit; b++) {
            if (map.isPresent(b)) break;
            CompletableFuture<Void> f = new CompletableFuture<>();
            if (inflight.putIfAbsent(b, f) != null) break;
            mine.add(f);
            end = b;
        }
        if (end < start) return start - 1; // lost the race for `start`: the caller looks at it again
        if (readAhead) nextSequential = end + 1;
        long covered = Math.min(end, last);
        final long runStart = start;
        final long runEnd = end;
        IOException[] failure = new IOException[1];
        Runnable fetch = () -> {
            try {
                source.fetch(runStart, mine.size(), deadline, (index, data) -> {
                    int i = (int) (index - runStart);
                    if (i < 0 || i >= mine.size()) throw new IOException("block " + index + " outside the requested run");
                    engine.install(index, data);
                    inflight.remove(index, mine.get(i));
                    mine.get(i).complete(null);
                });
            } catch (IOException | RuntimeException e) {
                failure[0] = e instanceof IOException io ? io : new IOException(e);
            } finally {
                for (int i = 0; i < mine.size(); i++) {
                    CompletableFuture<Void> f = mine.get(i);
                    inflight.remove(runStart + i, f);
                    if (!f.isDone()) f.completeExceptionally(failure[0] != null ? failure[0] : new IOException("run ended early"));
                }
            }
        };
        if (end > last && readAheadExecutor != null && submit(fetch)) {
            // Read-ahead run: the reader waits only for the blocks it asked for; the rest keeps streaming
            // in the background (still claimed, so a reader of those blocks waits for this fetch).
            for (int i = 0; i <= covered - start; i++) await(mine.get(i), deadline);
        } else {
            fetch.run();
        }
        long missing = firstAbsent(start, covered);
        if (missing >= 0) {
            Throwable cause = failure[0];
            throw new FetchFailedException("fetching blocks " + start + ".." + runEnd + " failed at block " + missing
                    + (cause != null ? ": " + cause.getMessage() : ""), cause);
        }
        return covered;
    }

    private boolean submit(Runnable task) {
        try {
            readAheadExecutor.execute(task);
            return true;
        } catch (RejectedExecutionException e) {
            return false;
        }
    }

    private void await(CompletableFuture<Void> f, long deadline) throws FetchFailedException {
        try {
            f.get(Math.max(0, deadline - clock.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (ExecutionException e) {
            // The fetcher failed; the caller re-checks presence and may retry.
        } catch (TimeoutException e) {
            throw new FetchFailedException("timed out waiting for a block fetch", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new FetchFailedException("interrupted waiting for a block fetch", e);
        }
    }
}

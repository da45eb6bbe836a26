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
 * readers of those blocks wait on the futures, bounded by the fetch timeout.
 *
 * Read-ahead: SequentialStreams recognizes sequential readers (several at once, e.g. nbdcopy's
 * connections) and hands out windows of `RUNS_AHEAD` runs of `readAheadBlocks` ahead of each reader. Each
 * run is one wire request, claimed at once and streamed on the read-ahead executor, so several runs
 * are in flight per reader and the repository's latency is hidden; without an executor they run on the
 * reader's thread. Random misses never read ahead.
 *
 * Demand never waits for the prefetcher: prefetch does not claim blocks here, so a guest miss on a block
 * the prefetcher is streaming fetches it again itself; whichever install comes first wins.
 */
final class DemandFetcher {

    static final int MAX_RUN_BLOCKS = 256;
    static final long MAX_RUN_BYTES = 64L << 20;
    /** Read-ahead runs kept in flight ahead of a sequential reader. */
    static final int RUNS_AHEAD = 4;

    private final BlockEngine engine;
    private final BlockSource source;
    private final Clock clock;
    private final BlockEngine.Settings settings;
    private final ConcurrentHashMap<Long, CompletableFuture<Void>> inflight = new ConcurrentHashMap<>();
    private final SequentialStreams streams = new SequentialStreams();
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
        if (readAhead) readAhead(first, last, deadline);
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
                b = fetchRun(b, last, deadline) + 1;
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

    /** Schedules the read-ahead a sequential reader of {@code first..last} is due, if any. */
    private void readAhead(long first, long last, long deadline) {
        if (settings.readAheadBlocks() <= 0) return; // --read-ahead 0: fetch only what is read
        Geometry g = engine.geometry();
        long runBlocks = Math.min(settings.readAheadBlocks(), maxRunBlocks(g));
        long[] window = streams.onMiss(first, last, runBlocks * RUNS_AHEAD, g.blockCount());
        if (window == null) return;
        BlockMap map = engine.map();
        long b = window[0];
        while (b <= window[1]) {
            if (map.isPresent(b) || inflight.containsKey(b)) {
                b++;
                continue;
            }
            List<CompletableFuture<Void>> mine = claim(b, Math.min(window[1], b + runBlocks - 1));
            if (mine.isEmpty()) continue; // lost the race for b: look at it again
            Runnable fetch = fetchTask(b, mine, deadline, new IOException[1]);
            if (readAheadExecutor == null || !submit(fetch)) fetch.run();
            b += mine.size();
        }
    }

    private static long maxRunBlocks(Geometry g) {
        return Math.min(MAX_RUN_BLOCKS, Math.max(1, MAX_RUN_BYTES / g.blockSize()));
    }

    /** Claims consecutive absent, unclaimed blocks from {@code start} up to {@code limit}. */
    private List<CompletableFuture<Void>> claim(long start, long limit) {
        BlockMap map = engine.map();
        List<CompletableFuture<Void>> mine = new ArrayList<>();
        for (long b = start; b <= limit; b++) {
            if (map.isPresent(b)) break;
            CompletableFuture<Void> f = new CompletableFuture<>();
            if (inflight.putIfAbsent(b, f) != null) break;
            mine.add(f);
        }
        return mine;
    }

    /**
     * Claims and fetches, on this thread, a run starting at absent block {@code start} within the request;
     * returns the last block of the run.
     */
    private long fetchRun(long start, long last, long deadline) throws FetchFailedException {
        long limit = Math.min(last, start + maxRunBlocks(engine.geometry()) - 1);
        List<CompletableFuture<Void>> mine = claim(start, limit);
        if (mine.isEmpty()) return start - 1; // lost the race for `start`: the caller looks at it again
        long end = start + mine.size() - 1;
        IOException[] failure = new IOException[1];
        fetchTask(start, mine, deadline, failure).run();
        long missing = firstAbsent(start, end);
        if (missing >= 0) {
            Throwable cause = failure[0];
            throw new FetchFailedException("fetching blocks " + start + ".." + end + " failed at block " + missing
                    + (cause != null ? ": " + cause.getMessage() : ""), cause);
        }
        return end;
    }

    /** Fetches the claimed run {@code start..start+mine.size()-1}, completing every claim whatever happens. */
    private Runnable fetchTask(long runStart, List<CompletableFuture<Void>> mine, long deadline, IOException[] failure) {
        return () -> {
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

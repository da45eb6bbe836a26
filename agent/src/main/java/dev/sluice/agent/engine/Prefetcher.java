package dev.sluice.agent.engine;

import java.io.IOException;
import java.util.PrimitiveIterator;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/*
 * Design notes (prefetcher).
 *
 * One loop, in the manner of QEMU's block/stream.c: take the next absent block in PrefetchOrder, extend
 * it to a run of consecutive absent blocks (one wire request, `batchBlocks` at most), give way to the
 * guest, wait for the rate limit, fetch and install. Up to `parallelRuns` runs are in flight at once on
 * the executor (the repository's latency and per-request cost are hidden behind each other); they are
 * made durable together by one flush (data fsync, then one map commit) every `flushEveryBytes`, at the
 * end of a pass and on stop, so a restart resumes after the last flush (the map is the only progress
 * record: present blocks are skipped). With an executor the flush runs there too, while the next runs
 * stream (fetching and the disk's writeback overlap); at most one flush runs at a time, and the loop
 * waits for it when more than 4 × flushEveryBytes are waiting to be made durable.
 *
 * Giving way to the guest (invariant 6) is proportional, not a pause: while a guest miss is in flight, or
 * the guest read or wrote anything (hits too) within DEMAND_WINDOW_NANOS, prefetch sends one run at a time
 * of at most `demandBatchBlocks`, starts it only between two misses (waiting at most MISS_WAIT_NANOS for
 * one to end), and after each run waits as long as that run took. So it takes at most about half of the
 * link and the CPUs, never holds a long transfer in front of a miss, yet keeps making progress under a
 * guest that misses all the time (pausing outright starved prefetch, and thus left that guest cold).
 * Hits count because the guest's I/O also needs CPU: parallel runs of 8 MiB (hashing, writing, and, where
 * the repository shares the host, serving) took both CPUs of a 2-CPU host in bursts, and a guest's reads of
 * present blocks waited behind them (bench/agent.sh row 4b: p99 4.7x idle).
 *
 * Boot hold (holdForBoot): once the priority list (the blocks a boot is known to need) has been visited, the rest
 * of the image waits while a guest is attached and still booting: until it has read most of its boot set
 * (BOOT_SET_DONE, when the engine watches one; the first reads can come seconds after the client attaches, so a
 * pause alone says nothing) and then paused for GUEST_QUIET_NANOS, re-checked before every run, for at most the hold
 * time after the first client attached. The rest is not on the boot's critical path, and fetching it at full rate
 * takes CPU and bandwidth from the booting guest (measured: a learned-order boot under TCG on 2 cores was 2.2x slower
 * than a demand-only one while prefetch ran alongside; bench/boot.sh). With no client attached there is no boot to
 * give way to, so nothing is held (an agent warming a machine before its VM starts prefetches at full speed; a
 * client that attaches later engages the hold at the next run); a client that detaches releases it.
 *
 * When a pass leaves every block present the loop logs it and returns for good; a failed run ends the
 * pass, and the next one starts after an exponential backoff (1 s doubling to 30 s, reset by success).
 * State: a cursor and a few counters; no per-block memory.
 *
 * The caller provides the thread (run() blocks until done or stop()), and the executor for parallel runs.
 */
public final class Prefetcher {

    public enum State { NOT_STARTED, RUNNING, YIELDING, RETRYING, COMPLETE, STOPPED }

    /** Guest I/O (a miss, or any read or write) within this window makes the prefetcher give way (see the design notes). */
    static final long DEMAND_WINDOW_NANOS = 50_000_000L;
    /** While the guest misses, a run starts when no miss is in flight, or after this long anyway. */
    static final long MISS_WAIT_NANOS = 20_000_000L;
    /** During the boot hold, the rest of the image is fetched only once the guest has not read for this long. */
    static final long GUEST_QUIET_NANOS = 1_000_000_000L;
    /** Share of the watched boot set the guest must have read before a pause counts as the end of its boot. */
    static final double BOOT_SET_DONE = 0.9;

    /** How the prefetcher runs; {@link #serial} is one run at a time on the caller's thread, flushing each. */
    public record Settings(int parallelRuns, long flushEveryBytes, int demandBatchBlocks, Executor executor) {
        public Settings {
            if (parallelRuns < 1) throw new IllegalArgumentException("parallelRuns " + parallelRuns);
            if (demandBatchBlocks < 1) throw new IllegalArgumentException("demandBatchBlocks " + demandBatchBlocks);
            if (parallelRuns > 1 && executor == null) throw new IllegalArgumentException("parallel runs need an executor");
        }

        public static Settings serial(int demandBatchBlocks) {
            return new Settings(1, 0, demandBatchBlocks, null);
        }
    }

    private final BlockEngine engine;
    private final BlockSource source;
    private final Clock clock;
    private final PrefetchOrder order;
    private final long bytesPerSecond;
    private final int batchBlocks;
    private final long fetchTimeoutNanos;
    private final Settings settings;
    private final Consumer<String> log;
    private volatile State state = State.NOT_STARTED;
    private volatile boolean stopRequested;
    private final AtomicLong bytesFetched = new AtomicLong();
    private long throttleStartNanos;
    private long bootHoldNanos;
    private long scheduledBytes; // bytes of the runs started so far: the throttle counts them when they start
    // Runs in flight: guarded by `runs`.
    private final Object runs = new Object();
    private int inFlight;
    private boolean flushing;
    private IOException runFailure;

    /**
     * One run at a time on the caller's thread, a flush after each.
     *
     * @param bytesPerSecond throttle; 0 means unlimited
     * @param batchBlocks blocks per wire request (at most 256)
     */
    public Prefetcher(BlockEngine engine, BlockSource source, Clock clock, PrefetchOrder order,
                      long bytesPerSecond, int batchBlocks, long fetchTimeoutNanos, Consumer<String> log) {
        this(engine, source, clock, order, bytesPerSecond, batchBlocks, fetchTimeoutNanos,
                Settings.serial(Math.max(1, batchBlocks / 8)), log);
    }

    public Prefetcher(BlockEngine engine, BlockSource source, Clock clock, PrefetchOrder order,
                      long bytesPerSecond, int batchBlocks, long fetchTimeoutNanos, Settings settings, Consumer<String> log) {
        if (batchBlocks < 1 || batchBlocks > DemandFetcher.MAX_RUN_BLOCKS) throw new IllegalArgumentException("batchBlocks " + batchBlocks);
        if (bytesPerSecond < 0) throw new IllegalArgumentException("bytesPerSecond " + bytesPerSecond);
        this.engine = engine;
        this.source = source;
        this.clock = clock;
        this.order = order;
        this.bytesPerSecond = bytesPerSecond;
        this.batchBlocks = batchBlocks;
        this.fetchTimeoutNanos = fetchTimeoutNanos;
        this.settings = settings;
        this.log = log;
    }

    /**
     * Holds the blocks after the order's priority entries while an attached guest boots, for at most {@code maxNanos}
     * after the first client attached (0: no hold). Only meaningful with a priority list: without one nothing says what the boot needs.
     */
    public Prefetcher holdForBoot(long maxNanos) {
        if (maxNanos < 0) throw new IllegalArgumentException("maxNanos " + maxNanos);
        this.bootHoldNanos = maxNanos;
        return this;
    }

    public State state() {
        return state;
    }

    public long bytesFetched() {
        return bytesFetched.get();
    }

    /** Asks run() to return after the runs in flight. */
    public void stop() {
        stopRequested = true;
    }

    /** Fills the disk; returns when every block is present (state COMPLETE) or after stop() (STOPPED). */
    public void run() {
        BlockMap map = engine.map();
        Geometry g = engine.geometry();
        throttleStartNanos = clock.nanoTime();
        long retryDelayNanos = 1_000_000_000L;
        while (!stopRequested) {
            state = State.RUNNING;
            boolean failed = false;
            PrimitiveIterator.OfLong it = order.blocks(g.blockCount());
            long carried = -1;
            long carriedEntry = -1;
            long entries = 0; // entries taken from the order this pass: tells the priority part from the rest
            long unflushedBytes = 0;
            while (!stopRequested && (carried >= 0 || it.hasNext())) {
                long start;
                long startEntry;
                if (carried >= 0) {
                    start = carried;
                    startEntry = carriedEntry;
                    carried = -1;
                } else {
                    start = it.nextLong();
                    startEntry = entries++;
                }
                if (map.isPresent(start)) continue;
                if (startEntry >= order.priorityEntries()) holdWhileBooting();
                boolean guestBusy = engine.guestBusy(DEMAND_WINDOW_NANOS);
                int limit = guestBusy ? Math.min(batchBlocks, settings.demandBatchBlocks()) : batchBlocks;
                long end = start;
                while (end - start + 1 < limit && it.hasNext()) {
                    long next = it.nextLong();
                    long nextEntry = entries++;
                    if (next == end + 1 && !map.isPresent(next)) {
                        end = next;
                    } else {
                        carried = next;
                        carriedEntry = nextEntry;
                        break;
                    }
                }
                throttle();
                if (stopRequested) break;
                int count = (int) (end - start + 1);
                scheduledBytes += Math.min(g.sizeBytes(), g.blockOffset(end + 1)) - g.blockOffset(start);
                try {
                    if (guestBusy || settings.executor() == null) {
                        awaitRuns(0);
                        if (guestBusy) betweenMisses();
                        long t0 = clock.nanoTime();
                        fetch(start, count);
                        if (guestBusy) {
                            state = State.YIELDING;
                            clock.sleepNanos(clock.nanoTime() - t0); // proportional: the guest gets as long again
                            state = State.RUNNING;
                        }
                    } else {
                        awaitRuns(settings.parallelRuns() - 1);
                        submit(start, count);
                    }
                    unflushedBytes += (long) count * g.blockSize();
                    if (unflushedBytes >= settings.flushEveryBytes() && startFlush(unflushedBytes >= 4 * settings.flushEveryBytes())) {
                        unflushedBytes = 0;
                    }
                    retryDelayNanos = 1_000_000_000L;
                } catch (IOException | RuntimeException e) {
                    // Error policy: end the pass and back off, rather than trying every other batch
                    // against a repository that is probably down.
                    failed = true;
                    log.accept("prefetch: " + (e instanceof RunFailed ? e.getMessage() // an earlier run, in flight
                            : "blocks " + start + ".." + end + " failed (" + e.getMessage() + ")") + "; will retry");
                    break;
                }
            }
            try {
                awaitRuns(0);
                awaitFlush();
            } catch (IOException e) {
                if (!failed) log.accept("prefetch: " + e.getMessage() + "; will retry");
                failed = true;
            }
            try {
                engine.flush();
            } catch (IOException e) {
                log.accept("prefetch: flush failed: " + e.getMessage());
            }
            if (stopRequested) break;
            if (map.presentCount() == g.blockCount()) {
                state = State.COMPLETE;
                log.accept("prefetch complete: all " + g.blockCount() + " blocks present; prefetch stopped for good");
                return;
            }
            state = State.RETRYING;
            if (!failed) log.accept("prefetch: pass ended with absent blocks left; starting another pass");
            clock.sleepNanos(retryDelayNanos);
            retryDelayNanos = Math.min(retryDelayNanos * 2, 30_000_000_000L);
            if (Thread.currentThread().isInterrupted()) break;
        }
        state = State.STOPPED;
    }

    private void holdWhileBooting() {
        if (bootHoldNanos == 0 || order.priorityEntries() == 0) return;
        long attached = engine.firstAttachNanos();
        if (attached == 0) return;
        long deadline = attached + bootHoldNanos;
        long held = clock.nanoTime();
        long now;
        while (!stopRequested && (now = clock.nanoTime()) < deadline && engine.guestsAttached() > 0 && !bootDone()) {
            state = State.YIELDING;
            clock.sleepNanos(Math.min(GUEST_QUIET_NANOS / 10, deadline - now));
            if (Thread.currentThread().isInterrupted()) {
                stopRequested = true;
            }
        }
        // The throttle's budget does not grow while held: no burst at full speed right after the hold.
        throttleStartNanos += clock.nanoTime() - held;
        state = State.RUNNING;
    }

    private boolean bootDone() {
        BootSetReads boot = engine.bootSet();
        return (boot == null || boot.fractionRead() >= BOOT_SET_DONE) && engine.guestQuiet(GUEST_QUIET_NANOS);
    }

    /** Waits (briefly) until no guest miss is in flight, so a run starts right after one rather than next to it. */
    private void betweenMisses() {
        long until = clock.nanoTime() + MISS_WAIT_NANOS;
        while (engine.missInFlight() && clock.nanoTime() < until && !stopRequested) {
            clock.sleepNanos(200_000L);
        }
    }

    private void fetch(long start, int count) throws IOException {
        source.fetch(start, count, clock.nanoTime() + fetchTimeoutNanos, (index, data) -> {
            bytesFetched.addAndGet(data.remaining());
            engine.install(index, data);
        });
    }

    private void submit(long start, int count) {
        synchronized (runs) {
            inFlight++;
        }
        settings.executor().execute(() -> {
            IOException failure = null;
            try {
                fetch(start, count);
            } catch (IOException | RuntimeException e) {
                failure = new RunFailed("blocks " + start + ".." + (start + count - 1) + " failed (" + e.getMessage() + ")", e);
            } finally {
                synchronized (runs) {
                    inFlight--;
                    if (failure != null && runFailure == null) runFailure = failure;
                    runs.notifyAll();
                }
            }
        });
    }

    /**
     * Makes what was installed so far durable: on this thread without an executor, else in the background.
     * Returns false when a background flush is still running and {@code mustWait} is false.
     */
    private boolean startFlush(boolean mustWait) throws IOException {
        if (settings.executor() == null) {
            engine.flush();
            return true;
        }
        synchronized (runs) {
            if (flushing && !mustWait) return false;
        }
        awaitFlush();
        synchronized (runs) {
            flushing = true;
        }
        settings.executor().execute(() -> {
            IOException failure = null;
            try {
                engine.flush();
            } catch (IOException | RuntimeException e) {
                failure = new RunFailed("flush failed (" + e.getMessage() + ")", e);
            } finally {
                synchronized (runs) {
                    flushing = false;
                    if (failure != null && runFailure == null) runFailure = failure;
                    runs.notifyAll();
                }
            }
        });
        return true;
    }

    /** A failure of work done on the executor (a run or a flush), reported to the loop later. */
    private static final class RunFailed extends IOException {
        RunFailed(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** Waits for a background flush to end. */
    private void awaitFlush() throws IOException {
        synchronized (runs) {
            while (flushing) {
                try {
                    runs.wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    stopRequested = true;
                    return;
                }
            }
        }
    }

    /** Waits until at most {@code max} runs are in flight; throws (and clears) the first failure of a run. */
    private void awaitRuns(int max) throws IOException {
        synchronized (runs) {
            while (inFlight > max && runFailure == null) {
                try {
                    runs.wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    stopRequested = true;
                    max = Integer.MAX_VALUE; // stop waiting; the runs finish on their own
                }
            }
            IOException f = runFailure;
            runFailure = null;
            if (f != null) throw f;
        }
    }

    /** Token bucket over the whole run: the n-th byte may not be requested before start + n / rate. */
    private void throttle() {
        if (bytesPerSecond == 0) return;
        long allowedAt = throttleStartNanos + (long) (scheduledBytes * 1e9 / bytesPerSecond);
        long wait = allowedAt - clock.nanoTime();
        if (wait > 0) clock.sleepNanos(wait);
    }
}

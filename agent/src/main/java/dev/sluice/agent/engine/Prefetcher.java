package dev.sluice.agent.engine;

import java.io.IOException;
import java.util.PrimitiveIterator;
import java.util.function.Consumer;

/*
 * Design notes (prefetcher).
 *
 * One loop, in the manner of QEMU's block/stream.c: take the next absent block in PrefetchOrder, extend
 * it to a run of consecutive absent blocks (one wire request, `batchBlocks` at most), yield while the
 * guest is missing blocks, wait for the rate limit, fetch and install, then flush so the batch is durable
 * and a restart resumes after it (the map is the only progress record: present blocks are skipped).
 * Boot hold (holdForBoot): once the priority list (the blocks a boot is known to need) has been visited, the rest
 * of the image waits while the guest is still booting: until it has read most of its boot set (BOOT_SET_DONE, when
 * the engine watches one; the first reads can come seconds after start, so a pause alone says nothing) and then
 * paused for GUEST_QUIET_NANOS, re-checked before every batch, for at most the hold time after run() starts. The rest is not on
 * the boot's critical path, and fetching it at full rate takes CPU and bandwidth from the booting guest (measured:
 * a learned-order boot under TCG on 2 cores was slower than a demand-only one while prefetch ran alongside).
 * When a pass leaves every block present the loop logs it and returns for good; a failed batch ends the
 * pass, and the next one starts after an exponential backoff (1 s doubling to 30 s, reset by success). State: a cursor and a few counters; no per-block memory.
 *
 * The caller provides the thread (run() blocks until done or stop()).
 */
public final class Prefetcher {

    public enum State { NOT_STARTED, RUNNING, YIELDING, RETRYING, COMPLETE, STOPPED }

    /** A guest miss within this window makes the prefetcher wait before its next batch. */
    static final long DEMAND_WINDOW_NANOS = 50_000_000L;
    /** During the boot hold, the rest of the image is fetched only once the guest has not read for this long. */
    static final long GUEST_QUIET_NANOS = 1_000_000_000L;
    /** Share of the watched boot set the guest must have read before a pause counts as the end of its boot. */
    static final double BOOT_SET_DONE = 0.9;

    private final BlockEngine engine;
    private final BlockSource source;
    private final Clock clock;
    private final PrefetchOrder order;
    private final long bytesPerSecond;
    private final int batchBlocks;
    private final long fetchTimeoutNanos;
    private final Consumer<String> log;
    private volatile State state = State.NOT_STARTED;
    private volatile boolean stopRequested;
    private long bytesFetched;
    private long throttleStartNanos;
    private long bootHoldNanos;
    private long runStartNanos;

    /**
     * @param bytesPerSecond throttle; 0 means unlimited
     * @param batchBlocks blocks per wire request (at most 256)
     */
    public Prefetcher(BlockEngine engine, BlockSource source, Clock clock, PrefetchOrder order,
                      long bytesPerSecond, int batchBlocks, long fetchTimeoutNanos, Consumer<String> log) {
        if (batchBlocks < 1 || batchBlocks > DemandFetcher.MAX_RUN_BLOCKS) throw new IllegalArgumentException("batchBlocks " + batchBlocks);
        if (bytesPerSecond < 0) throw new IllegalArgumentException("bytesPerSecond " + bytesPerSecond);
        this.engine = engine;
        this.source = source;
        this.clock = clock;
        this.order = order;
        this.bytesPerSecond = bytesPerSecond;
        this.batchBlocks = batchBlocks;
        this.fetchTimeoutNanos = fetchTimeoutNanos;
        this.log = log;
    }

    /**
     * Holds the blocks after the order's priority entries while the guest boots, for at most {@code maxNanos} after
     * run() starts (0: no hold). Only meaningful with a priority list: without one nothing says what the boot needs.
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
        return bytesFetched;
    }

    /** Asks run() to return after its current batch. */
    public void stop() {
        stopRequested = true;
    }

    /** Fills the disk; returns when every block is present (state COMPLETE) or after stop() (STOPPED). */
    public void run() {
        BlockMap map = engine.map();
        Geometry g = engine.geometry();
        throttleStartNanos = clock.nanoTime();
        runStartNanos = throttleStartNanos;
        long retryDelayNanos = 1_000_000_000L;
        while (!stopRequested) {
            state = State.RUNNING;
            boolean failed = false;
            PrimitiveIterator.OfLong it = order.blocks(g.blockCount());
            long carried = -1;
            long carriedEntry = -1;
            long entries = 0; // entries taken from the order this pass: tells the priority part from the rest
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
                long end = start;
                while (end - start + 1 < batchBlocks && it.hasNext()) {
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
                if (startEntry >= order.priorityEntries()) holdWhileBooting();
                yieldToDemand();
                throttle();
                if (stopRequested) break;
                try {
                    int count = (int) (end - start + 1);
                    source.fetch(start, count, clock.nanoTime() + fetchTimeoutNanos, (index, data) -> {
                        bytesFetched += data.remaining();
                        engine.install(index, data);
                    });
                    engine.flush();
                    retryDelayNanos = 1_000_000_000L;
                } catch (IOException | RuntimeException e) {
                    // Error policy: end the pass and back off, rather than trying every other batch
                    // against a repository that is probably down.
                    failed = true;
                    log.accept("prefetch: blocks " + start + ".." + end + " failed (" + e.getMessage() + "); will retry");
                    break;
                }
            }
            if (stopRequested) break;
            if (map.presentCount() == g.blockCount()) {
                try {
                    engine.flush();
                } catch (IOException e) {
                    log.accept("prefetch: final flush failed: " + e.getMessage());
                }
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
        long deadline = runStartNanos + bootHoldNanos;
        long held = clock.nanoTime();
        long now;
        while (!stopRequested && (now = clock.nanoTime()) < deadline && !bootDone()) {
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

    private void yieldToDemand() {
        while (!stopRequested && engine.demandActive(DEMAND_WINDOW_NANOS)) {
            state = State.YIELDING;
            clock.sleepNanos(DEMAND_WINDOW_NANOS / 5);
            if (Thread.currentThread().isInterrupted()) {
                stopRequested = true;
            }
        }
        state = State.RUNNING;
    }

    /** Token bucket over the whole run: the n-th byte may not be fetched before start + n / rate. */
    private void throttle() {
        if (bytesPerSecond == 0) return;
        long allowedAt = throttleStartNanos + (long) (bytesFetched * 1e9 / bytesPerSecond);
        long wait = allowedAt - clock.nanoTime();
        if (wait > 0) clock.sleepNanos(wait);
    }
}

package dev.sluice.agent.engine;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;

/**
 * The blocks the guest first touched, in the order it touched them: every read (a hit on a block that read-ahead
 * or prefetch already brought counts as much as a miss) and every partial write, since the trace was installed.
 * A whole-block write is a first touch that needs nothing from the repository: it is remembered, not recorded.
 * The control plane merges these traces into the image's learned boot order, so a second machine can have every
 * block its boot reads before the guest asks (a trace of misses only would leave out what read-ahead served).
 *
 * <p>Bounded: at most {@code cap} recorded blocks (8 bytes each, plus a set entry) and at most {@code 2 * cap}
 * remembered whole-block writes; nothing more once {@link #close()}d (the learning window ended) or full, and then
 * {@link #record} returns without taking the lock. Thread-safe; the engine calls it on the guest's I/O threads, so
 * it only appends to memory.
 */
public final class TouchTrace {
    private final int cap;
    private final Set<Long> seen = new HashSet<>();
    private long[] blocks = new long[256];
    private int count;
    private int drained;
    private volatile boolean done; // closed, or cap blocks recorded

    public TouchTrace(int cap) {
        if (cap < 1) throw new IllegalArgumentException("cap " + cap);
        this.cap = cap;
    }

    /** Notes the guest's read (or partial write) of blocks {@code first..last}: the ones not touched before. */
    void record(long first, long last) {
        if (done) return;
        synchronized (this) {
            for (long b = first; b <= last && !done; b++) {
                if (seen.add(b)) {
                    if (count == blocks.length) blocks = Arrays.copyOf(blocks, Math.min(cap, count * 2));
                    blocks[count++] = b;
                    if (count == cap) done = true;
                }
            }
        }
    }

    /** Notes a whole-block write of {@code first..last}: touched, but not needed from the repository. */
    void overwritten(long first, long last) {
        if (done) return;
        synchronized (this) {
            for (long b = first; b <= last && !done && seen.size() < 2L * cap; b++) seen.add(b);
        }
    }

    /** The blocks recorded since the previous drain, in order. */
    public synchronized long[] drain() {
        long[] out = Arrays.copyOfRange(blocks, drained, count);
        drained = count;
        return out;
    }

    /** Blocks recorded so far (drained or not). */
    public synchronized int size() {
        return count;
    }

    /** Stops recording for good. */
    public synchronized void close() {
        done = true;
    }
}

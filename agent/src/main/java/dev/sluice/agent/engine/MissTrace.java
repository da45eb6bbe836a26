package dev.sluice.agent.engine;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;

/**
 * First-touch demand misses in the order the guest made them: the blocks a boot needed that were not here yet.
 * The control plane merges them into the image's learned boot order. Bounded: at most {@code cap} blocks (8 bytes
 * each, plus a set entry), and nothing more once {@link #close()}d (the learning window ended). Thread-safe; the
 * engine calls {@link #record} on the guest's I/O threads, so it only appends to memory.
 */
public final class MissTrace {
    private final int cap;
    private final Set<Long> seen = new HashSet<>();
    private long[] blocks = new long[256];
    private int count;
    private int drained;
    private boolean closed;

    public MissTrace(int cap) {
        if (cap < 1) throw new IllegalArgumentException("cap " + cap);
        this.cap = cap;
    }

    /** Notes the blocks of {@code first..last} that are absent in {@code map} (called before they are fetched). */
    synchronized void record(long first, long last, BlockMap map) {
        for (long b = first; b <= last && !closed && count < cap; b++) {
            if (!map.isPresent(b) && seen.add(b)) {
                if (count == blocks.length) blocks = Arrays.copyOf(blocks, Math.min(cap, count * 2));
                blocks[count++] = b;
            }
        }
    }

    /** The misses recorded since the previous drain, in order. */
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
        closed = true;
    }
}

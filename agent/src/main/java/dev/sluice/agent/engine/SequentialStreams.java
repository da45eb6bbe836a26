package dev.sluice.agent.engine;

/*
 * Design notes (sequential stream detection).
 *
 * Tells the demand fetcher which misses belong to a sequential reader and how far to read ahead of it.
 * A guest copy tool reads several regions at once (nbdcopy: one per connection) and its requests reach
 * the engine slightly out of order (many in flight, several worker threads), so one "next expected
 * block" is not enough: a few streams are tracked, each matched with a tolerance of SLACK blocks.
 *
 * A stream is born at a miss and confirmed by two more misses, each starting after the previous one and
 * within SLACK of where it ended; random reads practically never do that twice in a row, so they do not
 * read ahead (nor do concurrent readers of one block). A confirmed stream keeps a window
 * of `windowBlocks` scheduled ahead of the reader's position, topped up (by at least half a window, so
 * requests stay large) whenever less than half of it is left. Reads of blocks already present do not
 * reach the fetcher, but a reader that keeps up with the window reads blocks still being fetched
 * (claimed, not present), and those reads do; each one moves the stream and tops the window up, so the
 * next runs are requested before the reader gets to them (Linux's asynchronous read-ahead, in effect).
 *
 * Memory: SLOTS entries. Thread-safe (one monitor; held only for a few comparisons).
 */
final class SequentialStreams {

    static final int SLOTS = 8;
    /** Reordering tolerance, in blocks, when matching a miss to a stream. */
    static final long SLACK = 8;

    private final long[] start = new long[SLOTS];  // first block of the stream's latest miss
    private final long[] next = new long[SLOTS];   // block after the furthest read of the stream; -1: free slot
    private final long[] ahead = new long[SLOTS];  // first block not yet scheduled for read-ahead
    private final int[] hits = new int[SLOTS];      // misses that continued the stream
    static final int CONFIRMING_HITS = 2;
    private final long[] lastUse = new long[SLOTS];
    private long uses;

    SequentialStreams() {
        java.util.Arrays.fill(next, -1);
    }

    /**
     * Records a read of {@code first..last} that found blocks absent, and returns the blocks to schedule for
     * read-ahead now as {@code {from, to}} (inclusive), or null. Scheduled ranges never overlap: each
     * stream's window only moves forward.
     */
    synchronized long[] onMiss(long first, long last, long windowBlocks, long blockCount) {
        int slot = -1;
        for (int i = 0; i < SLOTS; i++) {
            if (next[i] < 0) continue;
            boolean matches = hits[i] >= CONFIRMING_HITS
                    ? first >= next[i] - SLACK && first <= Math.max(next[i], ahead[i]) + SLACK
                    : Math.abs(first - next[i]) <= SLACK;
            if (matches) {
                slot = i;
                break;
            }
        }
        if (slot < 0) {
            slot = leastRecentlyUsed();
            start[slot] = first;
            next[slot] = last + 1;
            ahead[slot] = last + 1;
            hits[slot] = 0;
            lastUse[slot] = ++uses;
            return null;
        }
        lastUse[slot] = ++uses;
        if (hits[slot] < CONFIRMING_HITS) {
            if (first > start[slot]) hits[slot]++; // else the same reader again, or reordered: no evidence
            start[slot] = Math.max(start[slot], first);
            next[slot] = Math.max(next[slot], last + 1);
            if (hits[slot] < CONFIRMING_HITS) return null;
        }
        start[slot] = first;
        next[slot] = Math.max(next[slot], last + 1);
        long from = Math.max(ahead[slot], next[slot]);
        long to = Math.min(next[slot] + windowBlocks, blockCount) - 1;
        if (to < from || (from - next[slot] >= windowBlocks / 2 && to < blockCount - 1)) return null;
        ahead[slot] = to + 1;
        return new long[]{from, to};
    }

    private int leastRecentlyUsed() {
        int lru = 0;
        for (int i = 0; i < SLOTS; i++) {
            if (next[i] < 0) return i;
            if (lastUse[i] < lastUse[lru]) lru = i;
        }
        return lru;
    }
}

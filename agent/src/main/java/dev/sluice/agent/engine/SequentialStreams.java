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
 * read ahead (nor do concurrent readers of one block). A confirmed stream keeps a window scheduled ahead
 * of the reader's position, topped up (by at least half a window, so requests stay large) whenever less
 * than half of it is left.
 *
 * The window grows with the stream, as Linux's read-ahead does (mm/readahead.c, get_init_ra_size and
 * get_next_ra_size): it starts at 4x the confirming read (2x for larger reads), at most `windowBlocks`,
 * and every top-up grows it (4x while it is below 1/16 of the maximum, else 2x) up to `windowBlocks`.
 * So a reader of a short file (a booting guest reads hundreds of them, in 128 KiB requests) costs a
 * few hundred KiB of read-ahead beyond its end instead of a whole maximal window (16 MiB with the
 * defaults: a first boot fetched 52.6 MiB to read ~9), while a long sequential reader (a disk copy)
 * reaches the full window after a few top-ups (about 15 MiB with the defaults). Reads of blocks already present do not
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
    private final long[] window = new long[SLOTS];  // the stream's current window; 0: none scheduled yet
    static final int CONFIRMING_HITS = 2;
    private final long[] lastUse = new long[SLOTS];
    private long uses;

    SequentialStreams() {
        java.util.Arrays.fill(next, -1);
    }

    /**
     * Records a read of {@code first..last} that found blocks absent, and returns the blocks to schedule for
     * read-ahead now as {@code {from, to}} (inclusive), or null. Scheduled ranges never overlap: each
     * stream's window only moves forward. {@code windowBlocks} is the largest window a stream grows to.
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
            window[slot] = 0;
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
        long current = window[slot];
        boolean topUp = current == 0 || from - next[slot] < current / 2;
        long grown = current == 0 ? initialWindow(last - first + 1, windowBlocks) : nextWindow(current, windowBlocks);
        long to = Math.min(next[slot] + (topUp ? grown : current), blockCount) - 1;
        if (to < from || (!topUp && to < blockCount - 1)) return null;
        if (topUp) window[slot] = grown;
        ahead[slot] = to + 1;
        return new long[]{from, to};
    }

    /** A new stream's first window: 4x its read (2x a read above 1/32 of the maximum), within 1..max. */
    static long initialWindow(long readBlocks, long max) {
        long size = Long.highestOneBit(Math.max(1, readBlocks - 1)) << 1; // rounded up to a power of two
        if (readBlocks <= 1) size = 1;
        long w = size <= max / 32 ? size * 4 : size * 2;
        return Math.max(1, Math.min(max, w));
    }

    /** The window after a top-up: 4x while below 1/16 of the maximum, else 2x; never above the maximum. */
    static long nextWindow(long current, long max) {
        return Math.min(max, current < max / 16 ? current * 4 : current * 2);
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

package dev.sluice.agent.engine;

import java.util.PrimitiveIterator;

/**
 * The order in which the prefetcher visits blocks: the best knowledge available first (e.g. a learned
 * boot order from the control plane), then everything else. Present blocks are skipped by the
 * prefetcher, so an order may name a block twice.
 */
public interface PrefetchOrder {

    /** Block indices in the order to fetch them; every block of {@code blockCount} should appear at least once. */
    PrimitiveIterator.OfLong blocks(long blockCount);

    /** Block 0 to the end. */
    static PrefetchOrder sequential() {
        return count -> new PrimitiveIterator.OfLong() {
            long next;

            @Override
            public boolean hasNext() {
                return next < count;
            }

            @Override
            public long nextLong() {
                return next++;
            }
        };
    }

    /** The given blocks first (out-of-range entries ignored), then all blocks sequentially. */
    static PrefetchOrder priorityFirst(long[] priority) {
        long[] copy = priority.clone();
        return count -> new PrimitiveIterator.OfLong() {
            int i;
            final PrimitiveIterator.OfLong rest = sequential().blocks(count);

            @Override
            public boolean hasNext() {
                while (i < copy.length && (copy[i] < 0 || copy[i] >= count)) i++;
                return i < copy.length || rest.hasNext();
            }

            @Override
            public long nextLong() {
                return hasNext() && i < copy.length ? copy[i++] : rest.nextLong();
            }
        };
    }

    /**
     * A priority list cut into consecutive windows of {@code window} entries, each sorted by block index: the
     * coarse order stays (what a boot needs first is fetched first) while nearby blocks of a window become runs
     * the prefetcher fetches in one request each.
     */
    static long[] sortedWithinWindows(long[] priority, int window) {
        if (window < 1) throw new IllegalArgumentException("window " + window);
        long[] out = priority.clone();
        for (int from = 0; from < out.length; from += window) {
            java.util.Arrays.sort(out, from, Math.min(out.length, from + window));
        }
        return out;
    }
}

package dev.sluice.agent.engine;

import java.util.Arrays;
import java.util.BitSet;

/**
 * Which blocks of a boot set (the priority list a hand-off gave) the guest has read so far. Tells the prefetcher
 * how far the boot has come: a guest that pauses before reading most of its boot set is still booting (e.g. its
 * kernel starts before the root disk is read), one that pauses after is done with it.
 */
public final class BootSetReads {
    private final long[] blocks; // sorted, distinct
    private final BitSet read;
    private int readCount; // guarded by this

    public BootSetReads(long[] bootSet) {
        this.blocks = Arrays.stream(bootSet).filter(b -> b >= 0).sorted().distinct().toArray();
        this.read = new BitSet(blocks.length);
    }

    /** Notes a guest read of blocks {@code first..last}. */
    void onRead(long first, long last) {
        int i = Arrays.binarySearch(blocks, first);
        if (i < 0) i = -i - 1;
        if (i >= blocks.length || blocks[i] > last) return;
        synchronized (this) {
            for (; i < blocks.length && blocks[i] <= last; i++) {
                if (!read.get(i)) {
                    read.set(i);
                    readCount++;
                }
            }
        }
    }

    /** The share of the boot set read so far (1 for an empty set). */
    public synchronized double fractionRead() {
        return blocks.length == 0 ? 1 : (double) readCount / blocks.length;
    }
}

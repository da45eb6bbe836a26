package dev.sluice.agent.engine;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

class SequentialStreamsTest {

    static final long WINDOW = 64;
    static final long BLOCKS = 1_000_000;

    @Test
    void aThirdMissInSequenceStartsASmallWindowAheadWhichIsToppedUpByHalvesAndGrows() {
        SequentialStreams s = new SequentialStreams();
        assertNull(s.onMiss(100, 103, WINDOW, BLOCKS), "one miss is not a stream yet");
        assertNull(s.onMiss(104, 107, WINDOW, BLOCKS), "nor are two");
        assertArrayEquals(new long[]{112, 119}, s.onMiss(108, 111, WINDOW, BLOCKS), "a window of 2x the 4-block read");
        assertNull(s.onMiss(112, 115, WINDOW, BLOCKS), "half of the window is still ahead of the reader");
        assertArrayEquals(new long[]{120, 120 + 16 - 1}, s.onMiss(116, 119, WINDOW, BLOCKS),
                "less than half left: topped up from where it ended, with the window doubled to 16");
        assertNull(s.onMiss(120, 123, WINDOW, BLOCKS));
        assertArrayEquals(new long[]{136, 132 + 32 - 1}, s.onMiss(128, 131, WINDOW, BLOCKS), "doubled again: 32");
    }

    @Test
    void aLongReaderGrowsItsWindowToTheMaximumAndNoFurther() {
        SequentialStreams s = new SequentialStreams();
        long scheduledUpTo = -1, largest = 0;
        for (long b = 0; b < 10_000; b += 2) {
            if (b <= scheduledUpTo) continue; // served by read-ahead: a hit, the fetcher never sees it
            long[] w = s.onMiss(b, b + 1, 256, BLOCKS);
            if (w == null) continue;
            assertTrue(w[0] > scheduledUpTo, "windows never overlap");
            assertTrue(w[1] - b < 256 + 2, "never more than the maximum window ahead of the reader");
            largest = Math.max(largest, w[1] - w[0] + 1);
            scheduledUpTo = w[1];
        }
        assertTrue(largest >= 128, "the window grew to the maximum (top-ups of at least half of it): " + largest);
        assertTrue(scheduledUpTo >= 10_000 - 2, "the reader was read ahead of up to the end");
    }

    @Test
    void aShortSequentialReadReadsAheadLittleBeyondItsEnd() {
        // A booting guest reads many short files in 2-block (128 KiB) requests: what one such file of 12 blocks
        // costs beyond its end is a small window, not the maximum (256 blocks, 16 MiB of 64 KiB blocks).
        SequentialStreams s = new SequentialStreams();
        long scheduledUpTo = -1;
        for (long b = 1000; b < 1012; b += 2) {
            if (b <= scheduledUpTo) continue;
            long[] w = s.onMiss(b, b + 1, 256, BLOCKS);
            if (w != null) scheduledUpTo = w[1];
        }
        assertTrue(scheduledUpTo >= 1011, "the file was read ahead of");
        assertTrue(scheduledUpTo - 1011 <= 40, "read ahead beyond the file's end: " + (scheduledUpTo - 1011) + " blocks");
    }

    @Test
    void theFirstWindowIsFourTimesASmallReadTwiceALargeOneAndAtMostTheMaximum() {
        assertEquals(8, SequentialStreams.initialWindow(2, 256));
        assertEquals(4, SequentialStreams.initialWindow(1, 256));
        assertEquals(16, SequentialStreams.initialWindow(3, 256), "rounded up to a power of two");
        assertEquals(64, SequentialStreams.initialWindow(32, 256));
        assertEquals(256, SequentialStreams.initialWindow(200, 256));
        assertEquals(2, SequentialStreams.initialWindow(1, 16));
        assertEquals(1, SequentialStreams.initialWindow(1, 1));
        assertEquals(32, SequentialStreams.nextWindow(8, 256), "4x while below 1/16 of the maximum");
        assertEquals(64, SequentialStreams.nextWindow(32, 256));
        assertEquals(256, SequentialStreams.nextWindow(256, 256));
    }

    @Test
    void interleavedReadersOfFourRegionsEachGetTheirOwnReadAhead() {
        SequentialStreams s = new SequentialStreams();
        long[] next = {0, 250_000, 500_000, 750_000};
        long[] scheduledUpTo = {-1, -1, -1, -1};
        for (int round = 0; round < 50; round++) {
            for (int r = 0; r < 4; r++) {
                long first = next[r];
                if (first > scheduledUpTo[r]) { // a read the window did not cover reaches the fetcher
                    long[] w = s.onMiss(first, first + 3, WINDOW, BLOCKS);
                    if (w != null) {
                        assertTrue(w[0] > scheduledUpTo[r], "windows never overlap");
                        scheduledUpTo[r] = w[1];
                    }
                }
                next[r] += 4;
            }
        }
        for (int r = 0; r < 4; r++) assertTrue(scheduledUpTo[r] >= next[r] - 4, "reader " + r + " was read ahead of");
    }

    @Test
    void slightlyReorderedRequestsStillCountAsSequential() {
        SequentialStreams s = new SequentialStreams();
        assertNull(s.onMiss(4, 7, WINDOW, BLOCKS));
        assertNull(s.onMiss(0, 3, WINDOW, BLOCKS), "an earlier request arriving late is no evidence");
        assertNull(s.onMiss(8, 11, WINDOW, BLOCKS));
        assertArrayEquals(new long[]{16, 16 + 8 - 1}, s.onMiss(12, 15, WINDOW, BLOCKS));
    }

    @Test
    void randomMissesAndRepeatedMissesOfOneBlockNeverReadAhead() {
        SequentialStreams s = new SequentialStreams();
        Random random = new Random(5);
        for (int i = 0; i < 100_000; i++) {
            long b = (long) (random.nextDouble() * BLOCKS);
            assertNull(s.onMiss(b, b, WINDOW, BLOCKS), "random miss " + i + " at " + b);
        }
        SequentialStreams same = new SequentialStreams();
        for (int i = 0; i < 10; i++) assertNull(same.onMiss(42, 42, WINDOW, BLOCKS), "concurrent readers of block 42");
    }

    @Test
    void theWindowStopsAtTheEndOfTheDisk() {
        SequentialStreams s = new SequentialStreams();
        s.onMiss(86, 89, WINDOW, 100);
        s.onMiss(90, 93, WINDOW, 100);
        assertArrayEquals(new long[]{98, 99}, s.onMiss(94, 97, WINDOW, 100));
        assertNull(s.onMiss(98, 99, WINDOW, 100));
    }
}

package dev.sluice.agent.engine;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

class SequentialStreamsTest {

    static final long WINDOW = 64;
    static final long BLOCKS = 1_000_000;

    @Test
    void aThirdMissInSequenceStartsAWindowAheadWhichIsToppedUpByHalves() {
        SequentialStreams s = new SequentialStreams();
        assertNull(s.onMiss(100, 103, WINDOW, BLOCKS), "one miss is not a stream yet");
        assertNull(s.onMiss(104, 107, WINDOW, BLOCKS), "nor are two");
        assertArrayEquals(new long[]{112, 112 + WINDOW - 1}, s.onMiss(108, 111, WINDOW, BLOCKS));
        assertNull(s.onMiss(112, 115, WINDOW, BLOCKS), "more than half of the window is still ahead of the reader");
        assertArrayEquals(new long[]{112 + WINDOW, 148 + WINDOW - 1}, s.onMiss(144, 147, WINDOW, BLOCKS),
                "less than half left: topped up from where it ended");
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
        assertArrayEquals(new long[]{16, 16 + WINDOW - 1}, s.onMiss(12, 15, WINDOW, BLOCKS));
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

package dev.sluice.agent.engine;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The engine notes the guest's first touches in order (reads, hits included, and partial writes; whole-block writes
 * are not recorded), bounded, until the trace is closed.
 */
class TouchTraceTest {
    static final int BS = 4096;

    private BlockEngine engine(int blocks, int readAheadBlocks) throws IOException {
        Geometry g = new Geometry((long) blocks * BS, BS);
        byte[] image = new byte[blocks * BS];
        new Random(3).nextBytes(image);
        CrashableBytes.FaultPlan faults = new CrashableBytes.FaultPlan();
        return new BlockEngine(BlockMap.open(g, new CrashableBytes(0, faults)), new CrashableBytes(blocks * BS, faults),
                new MemoryBlockSource(image, g, 1), Clock.SYSTEM, new BlockEngine.Settings(readAheadBlocks, 5_000_000_000L));
    }

    private static void read(BlockEngine e, long block, int blocks) throws IOException {
        e.read(block * BS + 10, ByteBuffer.allocate(blocks * BS - 20));
    }

    @Test
    void blocksTheGuestTouchesAreRecordedOnceInFirstTouchOrderHitsIncluded() throws IOException {
        // read-ahead 1: every miss is exactly what the guest asked for
        BlockEngine e = engine(64, 1);
        read(e, 40, 1);                      // before tracing: not recorded, and now present
        TouchTrace trace = new TouchTrace(100);
        e.traceTouches(trace);
        read(e, 7, 2);                       // 7, 8 (misses)
        read(e, 40, 1);                      // present (a hit), but the first touch since tracing: recorded
        read(e, 3, 1);
        read(e, 8, 1);                       // touched before: not again
        e.writeWithinBlock(20, 5, ByteBuffer.wrap(new byte[]{1, 2})); // a partial write needs the rest of the block
        e.writeBlocks(30, ByteBuffer.allocate(BS));                     // a whole-block write needs nothing
        read(e, 30, 1);                      // ... and reading it back is not a first touch
        assertArrayEquals(new long[]{7, 8, 40, 3, 20}, trace.drain());
        assertArrayEquals(new long[0], trace.drain(), "drained");
        read(e, 50, 1);
        assertArrayEquals(new long[]{50}, trace.drain());
        assertEquals(6, trace.size());
        assertEquals(5, e.demandMisses(), "misses: the untraced read of 40, reads 7-8, 3, 50 and the partial write");
    }

    @Test
    void blocksThatReadAheadBroughtAreRecordedWhenTheGuestReadsThem() throws IOException {
        BlockEngine e = engine(64, 8);
        TouchTrace trace = new TouchTrace(100);
        e.traceTouches(trace);
        for (long b = 0; b < 16; b++) read(e, b, 1); // a sequential reader: read-ahead serves most of these as hits
        long[] expected = new long[16];
        for (int i = 0; i < 16; i++) expected[i] = i;
        assertArrayEquals(expected, trace.drain());
        assertEquals(true, e.demandMisses() < 16, "read-ahead served some reads as hits: " + e.demandMisses() + " misses");
    }

    @Test
    void theTraceIsBoundedAndStopsWhenClosed() throws IOException {
        BlockEngine e = engine(64, 1);
        TouchTrace trace = new TouchTrace(3);
        e.traceTouches(trace);
        read(e, 10, 2);
        read(e, 20, 2);
        assertArrayEquals(new long[]{10, 11, 20}, trace.drain());
        read(e, 40, 1);
        assertArrayEquals(new long[0], trace.drain(), "full");
        TouchTrace closed = new TouchTrace(10);
        e.traceTouches(closed);
        closed.close();
        read(e, 30, 1);
        assertArrayEquals(new long[0], closed.drain());
    }

    @Test
    void wholeBlockWritesAreRememberedBoundedly() throws IOException {
        BlockEngine e = engine(64, 1);
        TouchTrace trace = new TouchTrace(2);
        e.traceTouches(trace);
        e.writeBlocks(0, ByteBuffer.allocate(8 * BS)); // remembers at most 2 * cap = 4 of them: 0-3
        read(e, 2, 1);                                 // remembered: not recorded
        read(e, 5, 1);                                 // beyond the bound: recorded (harmless, it is a real read)
        assertArrayEquals(new long[]{5}, trace.drain());
    }

    @Test
    void aPriorityListIsSortedWithinWindowsSoNearbyBlocksBecomeRuns() {
        assertArrayEquals(new long[]{3, 5, 9, 1, 2, 8, 4}, PrefetchOrder.sortedWithinWindows(new long[]{9, 3, 5, 2, 8, 1, 4}, 3));
        assertArrayEquals(new long[]{}, PrefetchOrder.sortedWithinWindows(new long[]{}, 8));
    }

    @Test
    void interleavedRegionsOfAPriorityListBecomeWholeRunsInTheOrderOfTheirFirstEntries() {
        // Two readers' first touches, interleaved: 0, 100, 1, 101, 2, 102, 3, 103.
        long[] interleaved = {0, 100, 1, 101, 2, 102, 3, 103};
        assertArrayEquals(new long[]{0, 1, 2, 3, 100, 101, 102, 103}, PrefetchOrder.runsWithinList(interleaved, 8));
        // Runs stop at maxRun blocks; the rest of a region is a run where its next entry comes in the list.
        assertArrayEquals(new long[]{0, 1, 100, 101, 2, 3, 102, 103}, PrefetchOrder.runsWithinList(interleaved, 2));
        // Only blocks of the list join a run (5 is not in it), each block once, duplicates dropped; a run never reaches
        // back (3 comes after 4, as the list has it).
        assertArrayEquals(new long[]{4, 6, 7, 3}, PrefetchOrder.runsWithinList(new long[]{4, 6, 4, 7, 3, 6}, 8));
        assertArrayEquals(new long[]{}, PrefetchOrder.runsWithinList(new long[]{}, 8));
    }
}

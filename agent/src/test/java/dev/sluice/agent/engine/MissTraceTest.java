package dev.sluice.agent.engine;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The engine notes the guest's first-touch misses in order, bounded, until the trace is closed. */
class MissTraceTest {
    static final int BS = 4096;

    private BlockEngine engine(int blocks) throws IOException {
        Geometry g = new Geometry((long) blocks * BS, BS);
        byte[] image = new byte[blocks * BS];
        new Random(3).nextBytes(image);
        CrashableBytes.FaultPlan faults = new CrashableBytes.FaultPlan();
        // read-ahead 0 blocks beyond the request, so every miss is exactly what the guest asked for
        return new BlockEngine(BlockMap.open(g, new CrashableBytes(0, faults)), new CrashableBytes(blocks * BS, faults),
                new MemoryBlockSource(image, g, 1), Clock.SYSTEM, new BlockEngine.Settings(1, 5_000_000_000L));
    }

    private static void read(BlockEngine e, long block, int blocks) throws IOException {
        e.read(block * BS + 10, ByteBuffer.allocate(blocks * BS - 20));
    }

    @Test
    void absentBlocksTheGuestTouchesAreRecordedOnceInFirstTouchOrder() throws IOException {
        BlockEngine e = engine(64);
        read(e, 40, 1);                      // before tracing: not recorded, and now present
        MissTrace trace = new MissTrace(100);
        e.traceMisses(trace);
        read(e, 7, 2);                       // 7, 8
        read(e, 40, 1);                      // present: no miss
        read(e, 3, 1);
        read(e, 8, 1);                       // present now
        e.writeWithinBlock(20, 5, ByteBuffer.wrap(new byte[]{1, 2})); // a partial write to an absent block fetches it
        e.writeBlocks(30, ByteBuffer.allocate(BS));                     // a whole-block write fetches nothing
        assertArrayEquals(new long[]{7, 8, 3, 20}, trace.drain());
        assertArrayEquals(new long[0], trace.drain(), "drained");
        read(e, 50, 1);
        assertArrayEquals(new long[]{50}, trace.drain());
        assertEquals(5, trace.size());
        assertEquals(5, e.demandMisses(), "misses: the untraced read of 40, reads 7-8, 3, 50 and the partial write");
    }

    @Test
    void theTraceIsBoundedAndStopsWhenClosed() throws IOException {
        BlockEngine e = engine(64);
        MissTrace trace = new MissTrace(3);
        e.traceMisses(trace);
        read(e, 10, 2);
        read(e, 20, 2);
        assertArrayEquals(new long[]{10, 11, 20}, trace.drain());
        MissTrace closed = new MissTrace(10);
        e.traceMisses(closed);
        closed.close();
        read(e, 30, 1);
        assertArrayEquals(new long[0], closed.drain());
    }

    @Test
    void aPriorityListIsSortedWithinWindowsSoNearbyBlocksBecomeRuns() {
        assertArrayEquals(new long[]{3, 5, 9, 1, 2, 8, 4}, PrefetchOrder.sortedWithinWindows(new long[]{9, 3, 5, 2, 8, 1, 4}, 3));
        assertArrayEquals(new long[]{}, PrefetchOrder.sortedWithinWindows(new long[]{}, 8));
    }
}

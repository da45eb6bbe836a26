package dev.sluice.agent.engine;

import dev.sluice.agent.local.FileCutStore;
import dev.sluice.agent.nbd.WriteSplitter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** The point-in-time cut: copy-before-write, durable across crashes, and acknowledgement by write generation. */
class SnapshotCutTest {
    static final int BS = 4096;
    static final int BLOCKS = 16;

    @TempDir
    Path dir;
    private final Geometry geometry = new Geometry((long) BLOCKS * BS, BS);
    private final CrashableBytes.FaultPlan faults = new CrashableBytes.FaultPlan();
    private final CrashableBytes local = new CrashableBytes(BLOCKS * BS, faults);
    private final CrashableBytes mapBytes = new CrashableBytes(0, faults);
    private final MemoryBlockSource source;
    private BlockEngine engine;

    SnapshotCutTest() throws IOException {
        byte[] image = new byte[BLOCKS * BS];
        new Random(5).nextBytes(image);
        source = new MemoryBlockSource(image, geometry, 1);
        source.failureRate = 0;
        reopen();
    }

    private void reopen() throws IOException {
        engine = new BlockEngine(BlockMap.open(geometry, mapBytes), local, source, Clock.SYSTEM, new BlockEngine.Settings(0, 5_000_000_000L));
    }

    private void crash() throws IOException {
        Random r = new Random(11);
        local.crash(r);
        mapBytes.crash(r);
        reopen();
    }

    private void fill(long block, char c) throws IOException {
        byte[] b = new byte[BS];
        Arrays.fill(b, (byte) c);
        WriteSplitter.write(engine, block * BS, ByteBuffer.wrap(b));
    }

    private byte atCut(SnapshotCut cut, int slot) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(BS);
        engine.readAtCut(cut, slot, b);
        return b.get(0);
    }

    private byte guest(long block) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(BS);
        engine.read(block * BS, b);
        return b.get(0);
    }

    @Test
    void theCutSurvivesACrashWithItsCopiesAndTheAckClearsOnlyBlocksNotRewritten() throws IOException {
        for (long b = 0; b < 6; b++) fill(b, 'A');
        engine.flush();
        fill(10, 'X'); // never flushed: after the crash below block 10 is dirty but absent
        crash();
        assertTrue(engine.map().isDirty(BlockMap.REPOSITORY, 10) && !engine.map().isPresent(10), "dirty but absent after the crash");

        SnapshotCut cut = engine.freeze("op_1", BlockMap.REPOSITORY, new FileCutStore(dir, BS));
        assertEquals(6, cut.size(), "blocks 0-5; the absent block 10 is left out");
        fill(1, 'B');
        fill(3, 'B');
        engine.flush();
        assertEquals('A', atCut(cut, 1), "the upload reads the cut, not the guest's later write");
        assertEquals('B', guest(1));

        crash(); // the agent dies mid-upload
        SnapshotCut resumed = engine.resume(new FileCutStore(dir, BS));
        assertNotNull(resumed);
        assertEquals("op_1", resumed.operationId());
        assertEquals(cut.digest(), resumed.digest(), "the same cut");
        for (int slot = 0; slot < 6; slot++) assertEquals('A', atCut(resumed, slot), "slot " + slot + " reads as at the cut");
        fill(4, 'C'); // rewritten after the restart: must stay dirty too

        engine.acknowledgeCut(resumed);
        crash();
        for (long b = 0; b < 6; b++) {
            assertEquals(b == 1 || b == 3 || b == 4, engine.map().isDirty(BlockMap.REPOSITORY, b), "block " + b);
            assertTrue(engine.map().isDirty(1, b), "the other target's bits are untouched");
        }
        assertTrue(engine.map().isDirty(BlockMap.REPOSITORY, 10), "the absent dirty block stays dirty");
        assertNull(engine.resume(new FileCutStore(dir, BS)), "an acknowledged cut is gone");
    }

    @Test
    void aSecondFreezeWhileACutIsActiveIsRefusedAndDropKeepsEveryBitDirty() throws IOException {
        fill(2, 'A');
        SnapshotCut cut = engine.freeze("op_1", 1, new FileCutStore(dir, BS));
        assertThrows(IllegalStateException.class, () -> engine.freeze("op_2", 1, new FileCutStore(dir, BS)));
        engine.drop(cut);
        assertTrue(engine.map().isDirty(1, 2));
        assertNull(engine.cut());
        assertEquals(1, engine.freeze("op_2", 1, new FileCutStore(dir, BS)).size());
    }
}

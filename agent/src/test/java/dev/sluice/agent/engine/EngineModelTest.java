package dev.sluice.agent.engine;

import dev.sluice.agent.nbd.WriteSplitter;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.LongStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Model-based random test: the engine against a plain in-memory disk, with crashes injected between
 * operations and inside them (at a random I/O call). After each crash the engine is reopened from what
 * the stores kept, and we check DESIGN §3:
 *  - every write acknowledged before an acknowledged flush is readable (bytes are the flushed value or a
 *    value some later, unflushed write put there: torn unflushed writes are allowed, junk is not);
 *  - no present block has wrong contents (covered by the same byte check: present blocks are read locally);
 *  - no block differing from the image is clean for any target.
 */
class EngineModelTest {

    static LongStream seeds() {
        return LongStream.range(0, 300);
    }

    private record Write(long offset, byte[] data) {
    }

    private Geometry geometry;
    private byte[] image;
    private CrashableBytes.FaultPlan faults;
    private CrashableBytes local;
    private CrashableBytes mapBytes;
    private MemoryBlockSource source;
    private BlockEngine engine;

    @ParameterizedTest
    @MethodSource("seeds")
    void engineMatchesAPlainDiskAcrossCrashes(long seed) throws IOException {
        Random r = new Random(seed);
        int blockSize = new int[]{512, 1024, 4096}[r.nextInt(3)];
        long size = (long) blockSize * (1 + r.nextInt(20)) + (r.nextBoolean() ? 1 + r.nextInt(blockSize - 1) : 0);
        geometry = new Geometry(size, blockSize);
        image = new byte[(int) size];
        r.nextBytes(image);
        for (long b = 0; b < geometry.blockCount(); b++) {
            if (r.nextInt(4) == 0) Arrays.fill(image, (int) geometry.blockOffset(b), (int) geometry.blockOffset(b) + geometry.blockLength(b), (byte) 0);
        }
        faults = new CrashableBytes.FaultPlan();
        local = new CrashableBytes((int) size, faults);
        mapBytes = new CrashableBytes(0, faults);
        source = new MemoryBlockSource(image, geometry, seed);
        boolean flaky = r.nextInt(4) == 0;
        source.failureRate = flaky ? 0.05 : 0;
        open();

        byte[] model = image.clone();
        byte[] flushed = image.clone();
        List<Write> sinceFlush = new ArrayList<>();
        int crashes = 0;
        for (int step = 0; step < 150; step++) {
            int op = r.nextInt(100);
            if (r.nextInt(12) == 0) faults.callsLeft = r.nextInt(12);
            try {
                if (op < 30) {
                    long off = r.nextLong(size);
                    int len = 1 + r.nextInt((int) Math.min(size - off, 3L * blockSize));
                    ByteBuffer dst = ByteBuffer.allocate(len);
                    engine.read(off, dst);
                    assertArrayEquals(Arrays.copyOfRange(model, (int) off, (int) off + len), dst.array(),
                            "seed " + seed + " step " + step + ": read at " + off + "+" + len);
                } else if (op < 70) {
                    long off;
                    int len;
                    if (r.nextBoolean()) { // block aligned
                        long b = r.nextLong(geometry.blockCount());
                        off = geometry.blockOffset(b);
                        len = (int) Math.min(size - off, (long) blockSize * (1 + r.nextInt(3)));
                    } else {
                        off = r.nextLong(size);
                        len = 1 + r.nextInt((int) Math.min(size - off, 3L * blockSize));
                    }
                    byte[] data = new byte[len];
                    if (r.nextInt(3) > 0) r.nextBytes(data);
                    sinceFlush.add(new Write(off, data));
                    WriteSplitter.write(engine, off, ByteBuffer.wrap(data));
                    System.arraycopy(data, 0, model, (int) off, len);
                    if (op >= 60) { // FUA
                        engine.flush();
                        flushed = model.clone();
                        sinceFlush.clear();
                    }
                } else if (op < 80) {
                    engine.flush();
                    flushed = model.clone();
                    sinceFlush.clear();
                } else if (op < 92) {
                    long start = engine.map().nextAbsent(r.nextLong(geometry.blockCount()));
                    if (start >= 0) {
                        int count = (int) Math.min(geometry.blockCount() - start, 1 + r.nextInt(8));
                        try {
                            source.fetch(start, count, Long.MAX_VALUE, engine::install);
                        } catch (IOException e) {
                            if (!flaky || faults.fired) throw e;
                        }
                        engine.flush();
                        flushed = model.clone();
                        sinceFlush.clear();
                    }
                } else {
                    faults.callsLeft = r.nextInt(3) == 0 ? 0 : -1;
                    if (faults.callsLeft == 0) faults.tick();
                    checkDirtyInvariant(model, "live, seed " + seed + " step " + step);
                }
                faults.callsLeft = -1;
            } catch (CrashableBytes.Crash | IOException e) {
                if (!faults.fired && !(flaky && e instanceof FetchFailedException)) {
                    throw new AssertionError("seed " + seed + " step " + step + ": unexpected failure", e);
                }
                if (!faults.fired) continue;
                crashes++;
                faults.reset();
                local.crash(r);
                mapBytes.crash(r);
                open();
                model = recoverAndCheck(flushed, sinceFlush, "seed " + seed + " step " + step);
                flushed = model.clone();
                sinceFlush.clear();
                source.failureRate = flaky ? 0.05 : 0;
            }
        }
        // Final crash with nothing flushed since: the model must still hold.
        faults.reset();
        local.crash(r);
        mapBytes.crash(r);
        open();
        recoverAndCheck(flushed, sinceFlush, "seed " + seed + " final");
        assertTrue(crashes >= 0);
    }

    private void open() throws IOException {
        BlockMap map = BlockMap.open(geometry, mapBytes);
        engine = new BlockEngine(map, local, source, Clock.SYSTEM,
                new BlockEngine.Settings(2, 5_000_000_000L));
    }

    /** Reads the whole recovered disk and checks it against the model; returns it as the new model. */
    private byte[] recoverAndCheck(byte[] flushed, List<Write> sinceFlush, String where) throws IOException {
        source.failureRate = 0;
        byte[] disk = new byte[image.length];
        engine.read(0, ByteBuffer.wrap(disk));
        for (int i = 0; i < disk.length; i++) {
            if (disk[i] == flushed[i]) continue;
            boolean explained = false;
            for (Write w : sinceFlush) {
                if (i >= w.offset && i < w.offset + w.data.length && w.data[(int) (i - w.offset)] == disk[i]) {
                    explained = true;
                    break;
                }
            }
            if (!explained) {
                fail(where + ": byte " + i + " (block " + geometry.blockOf(i) + ") is " + disk[i]
                        + ", flushed value " + flushed[i] + ", no unflushed write explains it; state "
                        + engine.map().state(geometry.blockOf(i)));
            }
        }
        checkDirtyInvariant(disk, where + " after restart");
        return disk;
    }

    private void checkDirtyInvariant(byte[] contents, String where) {
        for (long b = 0; b < geometry.blockCount(); b++) {
            int from = (int) geometry.blockOffset(b);
            int to = from + geometry.blockLength(b);
            if (!Arrays.equals(contents, from, to, image, from, to)) {
                for (int t = 0; t < BlockMap.TARGETS; t++) {
                    assertTrue(engine.map().isDirty(t, b), where + ": block " + b + " differs from the image but is clean for target " + t);
                }
            }
        }
        assertEquals(contents.length, image.length);
    }
}

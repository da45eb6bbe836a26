package dev.sluice.agent.e2e;

import dev.sluice.agent.engine.BlockMap;
import dev.sluice.agent.engine.Geometry;
import dev.sluice.agent.fixture.FixtureControlPlane;
import dev.sluice.agent.local.FileMapStore;
import dev.sluice.agent.nbd.TestNbdClient;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * SIGKILL crash harness: the agent process is killed at random moments while a client writes, flushes
 * and reads and the prefetcher fetches and commits; it is restarted on the same cache dir and the
 * recovered disk is checked against a model:
 *  - every write acknowledged before an acknowledged FLUSH is there (each byte is the flushed value
 *    or was written by a write not yet covered by a flush);
 *  - no present block has wrong contents (same check: present blocks are served locally);
 *  - every block that differs from the image is dirty in the map as it was on disk at the kill.
 * Kill count: -Dsluice.crash.kills (default 100).
 */
@Tag("slow")
class CrashHarnessTest {

    static final int BS = 4096;
    @TempDir
    Path tmp;

    private record Write(long offset, byte[] data) {
    }

    @Test
    void killedAtRandomMomentsTheAgentKeepsItsPromises() throws Exception {
        int kills = Integer.getInteger("sluice.crash.kills", 100);
        Random r = new Random(Long.getLong("sluice.crash.seed", 20261125L));
        byte[] image = new byte[2 * 1024 * 1024 + 1234];
        r.nextBytes(image);
        Arrays.fill(image, 100 * BS, 200 * BS, (byte) 0);
        Geometry geometry = new Geometry(image.length, BS);
        byte[] flushed = image.clone();
        List<Write> sinceFlush = new ArrayList<>();
        long totalOps = 0;
        BlockMap mapAtKill = null;
        try (FixtureControlPlane cp = new FixtureControlPlane(image, BS)) {
            for (int kill = 0; kill < kills; kill++) {
                String rate = new String[]{"0.25", "1", "4", "0"}[r.nextInt(4)];
                AgentProcess agent = AgentProcess.start(cp, tmp, "--prefetch-rate", rate, "--fetch-timeout", "5");
                byte[] current;
                try (TestNbdClient c = TestNbdClient.connect(agent.socket)) {
                    // Recovery check for the previous kill, with the restarted agent.
                    current = c.read(0, image.length);
                    if (kill > 0) {
                        checkRecovered(current, flushed, sinceFlush, geometry, image, "kill " + (kill - 1));
                        checkDifferingBlocksAreDirty(current, mapAtKill, geometry, image, "kill " + (kill - 1));
                    }
                    flushed = current.clone();
                    sinceFlush.clear();

                    long killAtNanos = System.nanoTime() + (r.nextInt(5) == 0 ? r.nextInt(20) : 20 + r.nextInt(300)) * 1_000_000L;
                    Thread killer = new Thread(() -> {
                        try {
                            Thread.sleep(Math.max(0, (killAtNanos - System.nanoTime()) / 1_000_000));
                            agent.kill();
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    });
                    killer.start();
                    try {
                        while (true) {
                            int op = r.nextInt(10);
                            totalOps++;
                            if (op < 5) {
                                long off = r.nextInt(image.length);
                                int len = 1 + r.nextInt((int) Math.min(image.length - off, 3L * BS));
                                byte[] data = new byte[len];
                                r.nextBytes(data);
                                sinceFlush.add(new Write(off, data));
                                c.write(off, data, r.nextInt(4) == 0);
                                System.arraycopy(data, 0, current, (int) off, len);
                            } else if (op < 7) {
                                c.flush();
                                flushed = current.clone();
                                sinceFlush.clear();
                            } else {
                                long off = r.nextInt(image.length);
                                int len = 1 + r.nextInt((int) Math.min(image.length - off, 16L * BS));
                                byte[] got = c.read(off, len);
                                assertArrayEquals(Arrays.copyOfRange(current, (int) off, (int) off + len), got,
                                        "live read at " + off + "+" + len + " before kill " + kill);
                            }
                        }
                    } catch (IOException expected) {
                        // the agent died under us
                    }
                    killer.join();
                }
                mapAtKill = checkDirtyOnDisk(agent.cacheDir, geometry, image, flushed, sinceFlush, "kill " + kill);
            }
            // Final recovery check.
            AgentProcess agent = AgentProcess.start(cp, tmp, "--prefetch", "off");
            try (TestNbdClient c = TestNbdClient.connect(agent.socket)) {
                byte[] disk = c.read(0, image.length);
                checkRecovered(disk, flushed, sinceFlush, geometry, image, "final");
                checkDifferingBlocksAreDirty(disk, mapAtKill, geometry, image, "final");
            } finally {
                agent.close();
            }
        }
        assertTrue(totalOps > kills, "the harness did work between kills: " + totalOps);
    }

    /** Bytes are the flushed value or come from a write not covered by an acknowledged flush. */
    private static void checkRecovered(byte[] disk, byte[] flushed, List<Write> sinceFlush, Geometry g, byte[] image, String where) {
        for (int i = 0; i < disk.length; i++) {
            if (disk[i] == flushed[i]) continue;
            boolean explained = false;
            for (Write w : sinceFlush) {
                if (i >= w.offset && i < w.offset + w.data.length && w.data[(int) (i - w.offset)] == disk[i]) {
                    explained = true;
                    break;
                }
            }
            if (!explained) fail(where + ": byte " + i + " of block " + g.blockOf(i) + " is neither flushed data nor an unflushed write");
        }
    }

    /** The recovered disk against the map as the kill left it: a block that differs from the image is dirty. */
    private static void checkDifferingBlocksAreDirty(byte[] disk, BlockMap mapAtKill, Geometry g, byte[] image, String where) {
        for (long b = 0; b < g.blockCount(); b++) {
            int from = (int) g.blockOffset(b), to = from + g.blockLength(b);
            if (!Arrays.equals(disk, from, to, image, from, to)) {
                assertTrue(mapAtKill != null && mapAtKill.isDirty(BlockMap.REPOSITORY, b), where + ": block " + b + " differs from the image but was clean on disk");
            }
        }
    }

    /**
     * Never falsely clean, checked on the map file as the kill left it: every block whose possible
     * contents differ from the image must be dirty. "Possible contents": the flushed model plus any
     * unflushed write (which may or may not have reached the cache).
     */
    private static BlockMap checkDirtyOnDisk(Path cacheDir, Geometry g, byte[] image, byte[] flushed, List<Write> sinceFlush, String where) throws IOException {
        Path mapFile = cacheDir.resolve("block.map");
        BlockMap map;
        try (FileMapStore store = FileMapStore.openReadOnly(mapFile)) {
            map = BlockMap.open(g, store);
        } catch (IOException e) {
            // Killed before the map was formatted: nothing can have been written yet.
            assertTrue(Arrays.equals(flushed, image) && sinceFlush.size() <= 1, where + ": no map but writes happened: " + e);
            return null;
        }
        boolean[] touched = new boolean[(int) g.blockCount()];
        for (long b = 0; b < g.blockCount(); b++) {
            int from = (int) g.blockOffset(b), to = from + g.blockLength(b);
            touched[(int) b] = !Arrays.equals(flushed, from, to, image, from, to);
        }
        for (Write w : sinceFlush) {
            for (long b = g.blockOf(w.offset); b <= g.blockOf(w.offset + w.data.length - 1); b++) touched[(int) b] = true;
        }
        for (long b = 0; b < g.blockCount(); b++) {
            if (touched[(int) b] && !map.isDirty(BlockMap.REPOSITORY, b)) {
                // A write that never reached the agent (killed before it was read) leaves the block clean
                // legitimately only if the block still reads as the image: that is checked at recovery.
                int from = (int) g.blockOffset(b), to = from + g.blockLength(b);
                if (!Arrays.equals(flushed, from, to, image, from, to)) fail(where + ": block " + b + " holds flushed changes but is clean on disk");
                for (Write w : sinceFlush) {
                    if (w != sinceFlush.get(sinceFlush.size() - 1) && b >= g.blockOf(w.offset) && b <= g.blockOf(w.offset + w.data.length - 1)) {
                        fail(where + ": block " + b + " was written (acknowledged) but is clean on disk");
                    }
                }
            }
        }
        assertTrue(Files.exists(mapFile));
        return map;
    }
}

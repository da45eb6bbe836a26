package dev.sluice.agent.engine;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link BlockMap#nextDirty} against a block-by-block scan of {@link BlockMap#isDirty}, for both targets. */
class BlockMapScanTest {

    @Test
    void nextDirtyFindsExactlyTheDirtyBlocksOfItsTargetInOrder() throws Exception {
        Random r = new Random(42);
        int roundsWhereTargetsDiffer = 0;
        for (int round = 0; round < 40; round++) {
            long blocks = 1 + r.nextInt(700); // partial last words, single words, many words
            Geometry g = new Geometry(blocks * 512, 512);
            BlockMap map = BlockMap.open(g, new CrashableBytes(0, new CrashableBytes.FaultPlan()));
            int runs = r.nextInt(6);
            for (int i = 0; i < runs; i++) {
                long first = r.nextInt((int) blocks);
                long last = Math.min(blocks - 1, first + r.nextInt(40));
                map.markDirty(first, last); // dirty for every target
            }
            // acknowledge some blocks for one target only, so the two targets differ
            for (long b = 0; b < blocks; b++) {
                if (map.isDirty(0, b) && r.nextInt(3) == 0) {
                    map.beginUpload(r.nextInt(2), b);
                }
            }
            for (long b = 0; b < blocks; b++) {
                for (int t = 0; t < BlockMap.TARGETS; t++) {
                    if (map.isDirty(t, b) && r.nextInt(4) == 0) map.acknowledge(t, b);
                }
            }
            boolean differ = false;
            for (long b = 0; b < blocks; b++) differ |= map.isDirty(0, b) != map.isDirty(1, b);
            if (differ) roundsWhereTargetsDiffer++;
            for (int t = 0; t < BlockMap.TARGETS; t++) {
                List<Long> expected = new ArrayList<>();
                for (long b = 0; b < blocks; b++) if (map.isDirty(t, b)) expected.add(b);
                List<Long> found = new ArrayList<>();
                for (long b = map.nextDirty(t, 0); b >= 0; b = map.nextDirty(t, b + 1)) found.add(b);
                assertEquals(expected, found, "round " + round + ", target " + t + ", " + blocks + " blocks");
                long from = r.nextInt((int) blocks);
                assertEquals(expected.stream().filter(b -> b >= from).findFirst().orElse(-1L), map.nextDirty(t, from), "from " + from);
            }
        }
        assertTrue(roundsWhereTargetsDiffer >= 10, "the targets' dirty sets differed in only " + roundsWhereTargetsDiffer + " rounds");
    }
}

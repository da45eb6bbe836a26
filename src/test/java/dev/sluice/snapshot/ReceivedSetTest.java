package dev.sluice.snapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.sluice.blockstore.BlockDigest;
import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The packed batch rows of a snapshot upload, merged into the received set (no Quarkus). */
class ReceivedSetTest {
    private static BlockDigest d(int seed) {
        return BlockDigest.of(new byte[] {(byte) seed});
    }

    private static byte[] batch(long[] indices, BlockDigest... digests) {
        return ReceivedSet.pack(indices, digests, indices.length);
    }

    @Test
    void batchesMergeSortedByIndexAndTheLatestEntryOfABlockWins() {
        ReceivedSet set = new ReceivedSet.Builder()
                .addBlock(7, d(70).hex())                     // an older server's per-block row
                .addBatch(batch(new long[] {9, 2, 7}, d(9), d(2), d(71)))
                .addBatch(batch(new long[] {2, 5}, null, d(5)))  // block 2 again, now all zero
                .build();
        assertEquals(List.of(2L, 5L, 7L, 9L), set.indexList());
        assertEquals(6, set.frames(), "every recorded frame, so frames - size = blocks sent again");
        assertNull(set.digest(0), "block 2: the later (zero) frame wins");
        assertEquals(d(5), set.digest(1));
        assertEquals(d(71), set.digest(2), "block 7: the batch after the legacy row wins");
        assertEquals(d(9), set.digest(3));
        ByteBuffer ids = ByteBuffer.allocate(32);
        for (long i : new long[] {2, 5, 7, 9}) {
            ids.putLong(i);
        }
        assertEquals(BlockDigest.of(ids.array()).hex(), set.cutDigest());
    }

    @Test
    void anEmptyUploadAndATruncatedRow() {
        ReceivedSet empty = new ReceivedSet.Builder().build();
        assertEquals(0, empty.size());
        assertEquals(BlockDigest.of(new byte[0]).hex(), empty.cutDigest());
        assertThrows(IllegalStateException.class, () -> new ReceivedSet.Builder().addBatch(new byte[ReceivedSet.ENTRY + 1]));
    }
}

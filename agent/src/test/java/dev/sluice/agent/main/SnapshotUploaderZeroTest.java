package dev.sluice.agent.main;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A zero block is sent as a header only: the check must see every byte of the block, whatever its size. */
class SnapshotUploaderZeroTest {

    @Test
    void zeroBlocksOfAnySizeAreZero() {
        for (int size : new int[] {1, 4096, 65535, 65536, 65537, 1 << 20, (4 << 20) + 3}) {
            assertTrue(SnapshotUploader.isZero(ByteBuffer.allocate(size)), "size " + size);
        }
    }

    @Test
    void oneNonZeroByteAnywhereIsNotZero() {
        for (int size : new int[] {1, 4096, 65536, 65537, 1 << 20, (4 << 20) + 3}) {
            for (int at : new int[] {0, size / 2, 65535, 65536, size - 1}) {
                if (at >= size) continue;
                ByteBuffer b = ByteBuffer.allocate(size);
                b.put(at, (byte) 0x80);
                assertFalse(SnapshotUploader.isZero(b), "size " + size + ", byte " + at);
            }
        }
    }

    @Test
    void onlyTheBuffersRemainingBytesCount() {
        ByteBuffer b = ByteBuffer.allocate(3 * 65536);
        b.put(0, (byte) 1).put(3 * 65536 - 1, (byte) 1);
        b.position(1).limit(3 * 65536 - 1);
        assertTrue(SnapshotUploader.isZero(b));
        b.limit(3 * 65536);
        assertFalse(SnapshotUploader.isZero(b));
    }
}

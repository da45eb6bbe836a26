package dev.sluice.blockstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class DirectSlabTest {

    @Test
    void piecesAreDirectExactlySizedAndIndependentAcrossSlabs() {
        DirectSlab slab = new DirectSlab(100); // two 45-byte pieces per slab: the third starts a new one
        List<ByteBuf> pieces = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            ByteBuf piece = slab.take(45);
            assertTrue(piece.isDirect());
            assertEquals(0, piece.writerIndex());
            assertEquals(45, piece.writableBytes());
            for (int b = 0; b < 45; b++) {
                piece.writeByte(i);
            }
            pieces.add(piece);
        }
        for (int i = 0; i < 5; i++) {
            ByteBuf piece = pieces.get(i);
            assertEquals(45, piece.readableBytes());
            for (int b = 0; b < 45; b++) {
                assertEquals(i, piece.getByte(b), "piece " + i + " byte " + b);
            }
        }
        // A frame of a direct header and a direct block stays direct: Netty writes it without copying it first.
        assertTrue(Unpooled.wrappedBuffer(pieces.get(0), Unpooled.wrappedBuffer(java.nio.ByteBuffer.allocateDirect(8))).isDirect());
        assertEquals(200, slab.take(200).writableBytes()); // larger than a slab: a slab of its own
    }
}

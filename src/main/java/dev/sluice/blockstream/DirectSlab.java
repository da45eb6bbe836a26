package dev.sluice.blockstream;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.ByteBuffer;

/**
 * Small off-heap pieces (frame headers) cut from larger direct buffers, for one response.
 *
 * <p>Why: Netty writes a buffer to a socket as it is only if every part of it is direct; a block frame made of a
 * heap header and a direct block is copied whole into a fresh direct buffer first (one extra copy and allocation
 * of every block sent). Allocating each 45-byte header directly would cost a native allocation and a cleaner per
 * block, so headers are carved from a slab; a slab's memory is freed by the garbage collector once no written
 * piece refers to it (nothing here needs a release). Not thread-safe: confine to the response's event loop.
 */
final class DirectSlab {
    private final int slabBytes;
    private ByteBuffer slab;

    DirectSlab(int slabBytes) {
        this.slabBytes = slabBytes;
    }

    /** A fresh direct buffer of exactly {@code length} writable bytes (writer index 0). */
    ByteBuf take(int length) {
        if (slab == null || slab.remaining() < length) {
            slab = ByteBuffer.allocateDirect(Math.max(slabBytes, length));
        }
        ByteBuffer piece = slab.slice(slab.position(), length);
        slab.position(slab.position() + length);
        return Unpooled.wrappedBuffer(piece).clear();
    }
}

package dev.sluice.agent.engine;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The local cache: a byte-addressed store the size of the disk (a sparse file in production).
 * Writes are not durable until {@link #sync()} returns. Positional: safe for concurrent use at
 * different positions.
 */
public interface LocalStore {

    /** Fills {@code dst} completely from {@code position}. */
    void read(long position, ByteBuffer dst) throws IOException;

    /** Writes all of {@code src} at {@code position}; may reach disk at any later moment, in any order. */
    void write(long position, ByteBuffer src) throws IOException;

    /** On return every write that returned before this call started is durable. */
    void sync() throws IOException;
}

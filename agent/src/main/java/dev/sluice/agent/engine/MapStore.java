package dev.sluice.agent.engine;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Persistent home of the block map bytes (see {@link BlockMap} for the format). Writes are not durable
 * until {@link #sync()} returns; an implementation (and the storage below it) is assumed to write each
 * aligned 512-byte sector atomically, as md's write-intent bitmap assumes too.
 */
public interface MapStore {

    /** All stored bytes, or an empty buffer when nothing was ever stored. */
    ByteBuffer load() throws IOException;

    /** Writes all of {@code src} at {@code position}. */
    void write(long position, ByteBuffer src) throws IOException;

    /** On return every write that returned before this call started is durable. */
    void sync() throws IOException;
}

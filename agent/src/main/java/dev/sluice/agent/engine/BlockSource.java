package dev.sluice.agent.engine;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Where absent blocks come from: the repository (the control plane's block endpoints).
 *
 * <p>Contract: every block handed to the sink has had its digest verified against the repository's
 * manifest; an implementation never passes unverified bytes. Blocks arrive in index order. May block;
 * called from caller threads (NBD workers or the prefetch thread), never with engine locks held.
 */
public interface BlockSource {

    /**
     * Fetches blocks {@code start .. start+count-1}, delivering each verified block to {@code sink}
     * as it arrives. Returns normally only when all {@code count} blocks were delivered; blocks
     * delivered before a failure stay delivered.
     *
     * @param deadlineNanos {@link Clock#nanoTime()} value after which the implementation gives up
     * @throws IOException when the blocks could not all be obtained and verified before the deadline
     */
    void fetch(long start, int count, long deadlineNanos, Sink sink) throws IOException;

    /** Receives one verified block. {@code data} holds exactly the block's bytes (short last block: short). */
    interface Sink {
        void accept(long index, ByteBuffer data) throws IOException;
    }
}

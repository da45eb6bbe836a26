package dev.sluice.agent.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.BitSet;

/**
 * Durable home of one snapshot cut (see {@link SnapshotCut}): the frozen block list and, per frozen block, an
 * optional side copy of its contents at the cut. Every method is durable on return.
 */
public interface CutStore {

    /** A cut as stored: which operation and target it is for, its sorted blocks, and which of them have a side copy. */
    record Stored(String operationId, int target, long[] blocks, BitSet copied) {
    }

    /** The stored cut, or null when there is none. */
    Stored load() throws IOException;

    /** Replaces whatever was stored by a new cut with no side copies; durable on return. */
    void create(String operationId, int target, long[] blocks) throws IOException;

    /** Stores the cut-time contents of frozen block number {@code slot}, then records it: both durable on return. */
    void saveCopy(int slot, ByteBuffer data) throws IOException;

    /** Reads the side copy of frozen block number {@code slot} into {@code dst}. */
    void readCopy(int slot, ByteBuffer dst) throws IOException;

    /** Forgets the cut and its side copies (durable on return). */
    void delete() throws IOException;
}

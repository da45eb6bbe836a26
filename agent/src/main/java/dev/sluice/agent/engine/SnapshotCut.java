package dev.sluice.agent.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.BitSet;

/*
 * Design notes (snapshot cut, DESIGN §4 "point in time").
 *
 * A cut freezes, under the engine's upload gate (no guest write in flight) and after a flush, the set of
 * blocks that are dirty for one target and present. The cut and its state live in a CutStore, so an agent
 * killed mid-upload resumes the SAME cut after a restart.
 *
 * Copy-before-write: the first guest write to a frozen block first copies the block's current (= cut-time)
 * contents to the side store and records that durably; only then may the guest write proceed. The upload
 * reads a frozen block from its side copy if there is one, else from the cache (then unchanged since the
 * cut). Both paths hold this cut's monitor, so an upload read never sees a half-written guest block.
 *
 * The side copy doubles as the durable write generation: a frozen block with a side copy was rewritten after
 * the cut, so the acknowledgement must not clear its dirty bit. The engine arms BlockMap.beginUpload for
 * exactly the frozen blocks without a side copy (at the cut, and again after a restart), and guest writes
 * disarm it; BlockMap.acknowledge clears a bit only while it is armed.
 *
 * Blocks dirty but not present (possible only after a crash: an unflushed write to an absent block) are
 * left out and stay dirty: the guest reads them as the repository's bytes, which are the parent's, so the
 * snapshot holds exactly what the guest sees; a later snapshot takes them once they are present.
 *
 * Memory: 8 bytes per frozen block plus a bit; the side store is sparse, one block-sized slot per frozen block.
 */
public final class SnapshotCut {

    private final String operationId;
    private final int target;
    private final long[] blocks;
    private final BitSet copied;
    private final CutStore store;

    SnapshotCut(CutStore.Stored stored, CutStore store) {
        this.operationId = stored.operationId();
        this.target = stored.target();
        this.blocks = stored.blocks();
        this.copied = (BitSet) stored.copied().clone();
        this.store = store;
    }

    public String operationId() {
        return operationId;
    }

    public int target() {
        return target;
    }

    public int size() {
        return blocks.length;
    }

    /** Frozen block number {@code slot} (ascending block order). */
    public long block(int slot) {
        return blocks[slot];
    }

    /** The frozen block's slot, or a negative number when the block is not frozen. */
    int slotOf(long block) {
        return Arrays.binarySearch(blocks, block);
    }

    synchronized boolean copied(int slot) {
        return copied.get(slot);
    }

    /**
     * Called before a guest write to {@code first..last} (upload gate held for reading): copies every frozen,
     * not yet copied block in the range to the side store, durably.
     */
    void copyBeforeWrite(long first, long last, Geometry g, LocalStore local) throws IOException {
        int from = slotOf(first);
        if (from < 0) from = -from - 1;
        for (int slot = from; slot < blocks.length && blocks[slot] <= last; slot++) {
            synchronized (this) {
                if (copied.get(slot)) continue;
                ByteBuffer data = ByteBuffer.allocate(g.blockLength(blocks[slot]));
                local.read(g.blockOffset(blocks[slot]), data);
                store.saveCopy(slot, data.flip());
                copied.set(slot);
            }
        }
    }

    /** Reads frozen block number {@code slot} as it was at the cut into {@code dst} (sized to the block). */
    void readAtCut(int slot, Geometry g, LocalStore local, ByteBuffer dst) throws IOException {
        synchronized (this) {
            if (copied.get(slot)) {
                store.readCopy(slot, dst);
            } else {
                local.read(g.blockOffset(blocks[slot]), dst);
            }
        }
    }

    /** SHA-256 (hex) of the frozen block indices as 8-byte big-endian integers, ascending: names the cut to the server. */
    public String digest() {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            ByteBuffer b = ByteBuffer.allocate(8);
            for (long block : blocks) {
                md.update(b.clear().putLong(block).flip());
            }
            return java.util.HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    void delete() throws IOException {
        store.delete();
    }
}

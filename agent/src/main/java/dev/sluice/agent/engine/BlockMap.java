package dev.sluice.agent.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.BitSet;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/*
 * Design notes (block map).
 *
 * State per block is one nibble (4 bits): PRESENT, DIRTY for target 0 (the repository), DIRTY for
 * target 1 (a second target, reserved so a second repository can be added without a format change),
 * and UNSYNCED, which lives only in memory. 4 bits per block means 8 MiB of heap for a 1 TiB image at
 * 64 KiB blocks (16 Mi blocks), and the same 8 MiB on disk. The nibbles sit in an AtomicLongArray, 16
 * blocks per long, so readers check a block with one volatile load and writers update it by CAS: the
 * read path takes no lock.
 *
 * On disk (MapStore): a 4 KiB header ("SLUICMAP", version, bits per block, geometry, target count),
 * then the nibbles, two blocks per byte, low nibble first. The stored nibble is the memory nibble with
 * UNSYNCED cleared, and with PRESENT cleared too when UNSYNCED is set. That masking is what makes it
 * safe to write any page of the map at any moment:
 *  - PRESENT reaches disk only once UNSYNCED was cleared, which callers do only after the data was
 *    synced (invariant 1: data fsync happens-before the map commit);
 *  - DIRTY bits are set (and made durable, awaitDurable) before the caller writes the data, so a crash
 *    can never leave different data behind a clean bit (invariant 2, md's write-intent bitmap);
 *  - DIRTY is cleared only by acknowledge(), for the exact content the target acknowledged (invariant 5).
 * A block's bits share one byte, so one sector-atomic write never separates PRESENT from DIRTY.
 * A DIRTY but not PRESENT block found after a crash holds unflushed guest data or junk: it is read
 * from the repository again (the guest never flushed that write) and stays dirty, which is safe.
 *
 * Commits are grouped (leader/follower, no thread of our own): each mutation that must reach disk
 * takes a sequence number and marks its 4 KiB page; awaitDurable(seq) either waits for a running
 * commit or becomes the committer, writing every marked page and syncing once for all waiters.
 *
 * Write generations for snapshot uploads (invariant 5) are one in-memory bit per block and target,
 * allocated when the first upload to that target starts: beginUpload sets it, every guest write clears
 * it before and after its data write, and acknowledge clears DIRTY only if the bit survived, i.e. no
 * write overlapped or followed the upload's read of the block. BlockEngine runs acknowledge exclusive
 * of guest writes (its upload gate), so a write cannot slip between the check and the clear. The bits
 * are not persisted: an upload interrupted by a restart is started again, and its dirty bits are on disk.
 */
public final class BlockMap {

    public static final int PRESENT = 1;
    /** DIRTY bit of target {@code t} is {@code DIRTY_BASE << t}. Target 0 is the repository. */
    public static final int DIRTY_BASE = 2;
    public static final int TARGETS = 2;
    public static final int REPOSITORY = 0;
    static final int UNSYNCED = 8;
    static final int ALL_DIRTY = ((1 << TARGETS) - 1) * DIRTY_BASE;

    static final byte[] MAGIC = "SLUICMAP".getBytes(StandardCharsets.US_ASCII);
    static final int VERSION = 1;
    static final int BITS_PER_BLOCK = 4;
    public static final int HEADER_BYTES = 4096;
    static final int PAGE_BYTES = 4096;
    static final long BLOCKS_PER_PAGE = PAGE_BYTES * 2L;

    private final Geometry geometry;
    private final long blockCount;
    private final AtomicLongArray words;
    private final MapStore store;
    private final AtomicLong presentCount = new AtomicLong();
    private final AtomicLong[] dirtyCount = {new AtomicLong(), new AtomicLong()};
    private final AtomicLongArray[] uploading = new AtomicLongArray[TARGETS];

    // Commit state: guarded by commitLock.
    private final ReentrantLock commitLock = new ReentrantLock();
    private final Condition committed = commitLock.newCondition();
    private final BitSet modifiedPages = new BitSet();
    private final long[] pageSeq;
    private long modSeq;
    private long durableSeq;
    private boolean committing;
    private IOException failure;
    private final ByteBuffer pageBuffer = ByteBuffer.allocate(PAGE_BYTES);

    private BlockMap(Geometry geometry, MapStore store) {
        this.geometry = geometry;
        this.blockCount = geometry.blockCount();
        this.words = new AtomicLongArray((int) ((blockCount + 15) / 16));
        this.store = store;
        this.pageSeq = new long[(int) ((blockCount + BLOCKS_PER_PAGE - 1) / BLOCKS_PER_PAGE)];
    }

    /**
     * Loads the map from {@code store}, or formats a new empty one (all blocks absent and clean) when the
     * store holds none. On return the header is durable.
     *
     * @throws IOException when the store holds a map for another geometry, or on I/O failure
     */
    public static BlockMap open(Geometry geometry, MapStore store) throws IOException {
        BlockMap map = new BlockMap(geometry, store);
        ByteBuffer stored = store.load();
        if (!hasMagic(stored)) {
            if (!allZero(stored)) throw new IOException("block map has a bad header (not a Sluice map)");
            map.format();
        } else {
            map.load(stored);
        }
        return map;
    }

    /** Bytes of the stored map for {@code geometry}: header plus nibbles. */
    public static long storedSize(Geometry geometry) {
        return HEADER_BYTES + (geometry.blockCount() + 1) / 2;
    }

    private static boolean hasMagic(ByteBuffer b) {
        if (b.remaining() < HEADER_BYTES) return false;
        for (int i = 0; i < MAGIC.length; i++) if (b.get(b.position() + i) != MAGIC[i]) return false;
        return true;
    }

    private static boolean allZero(ByteBuffer b) {
        for (int i = b.position(); i < b.limit(); i++) if (b.get(i) != 0) return false;
        return true;
    }

    static ByteBuffer header(Geometry g) {
        ByteBuffer h = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.BIG_ENDIAN);
        h.put(MAGIC).putInt(VERSION).putInt(BITS_PER_BLOCK).putInt(g.blockSize()).putInt(0)
                .putLong(g.sizeBytes()).putLong(g.blockCount()).putInt(TARGETS);
        return h.clear();
    }

    private void format() throws IOException {
        // Nibbles first (all zero: absent, clean), header last: a map without a durable header is
        // reformatted on the next open, and it cannot hold any PRESENT bit yet.
        long size = storedSize(geometry);
        store.write(size - 1, ByteBuffer.allocate(1));
        store.sync();
        store.write(0, header(geometry));
        store.sync();
    }

    private void load(ByteBuffer stored) throws IOException {
        ByteBuffer h = stored.duplicate().order(ByteOrder.BIG_ENDIAN);
        h.position(h.position() + MAGIC.length);
        int version = h.getInt(), bits = h.getInt(), blockSize = h.getInt();
        h.getInt();
        long size = h.getLong(), count = h.getLong();
        int targets = h.getInt();
        if (version != VERSION || bits != BITS_PER_BLOCK || targets != TARGETS) {
            throw new IOException("unsupported block map version " + version + "/" + bits + "/" + targets);
        }
        if (blockSize != geometry.blockSize() || size != geometry.sizeBytes() || count != blockCount) {
            throw new IOException("block map is for another geometry: " + size + " bytes in blocks of "
                    + blockSize + ", expected " + geometry);
        }
        int base = stored.position() + HEADER_BYTES;
        for (long b = 0; b < blockCount; b++) {
            int at = base + (int) (b >>> 1);
            int nibble = at < stored.limit() ? (stored.get(at) >>> ((b & 1) * 4)) & 0xF : 0;
            nibble &= PRESENT | ALL_DIRTY;
            if (nibble != 0) {
                setBits(b, nibble);
                if ((nibble & PRESENT) != 0) presentCount.incrementAndGet();
                for (int t = 0; t < TARGETS; t++) if ((nibble & (DIRTY_BASE << t)) != 0) dirtyCount[t].incrementAndGet();
            }
        }
    }

    public Geometry geometry() {
        return geometry;
    }

    public long blockCount() {
        return blockCount;
    }

    /** The block's in-memory state bits ({@link #PRESENT}, dirty bits). Lock-free. */
    public int state(long block) {
        return (int) (words.get((int) (block >>> 4)) >>> ((block & 15) * 4)) & 0xF;
    }

    /** True when the local cache holds the block's current contents (readable now; maybe not yet durable). */
    public boolean isPresent(long block) {
        return (state(block) & PRESENT) != 0;
    }

    public boolean isDirty(int target, long block) {
        return (state(block) & (DIRTY_BASE << target)) != 0;
    }

    /** True when every block in {@code first..last} is present. Lock-free. */
    public boolean allPresent(long first, long last) {
        for (long b = first; b <= last; b++) if (!isPresent(b)) return false;
        return true;
    }

    public long presentCount() {
        return presentCount.get();
    }

    public long dirtyCount(int target) {
        return dirtyCount[target].get();
    }

    /** First absent block at or after {@code from}, or -1. Skips fully present words 16 blocks at a time. */
    public long nextAbsent(long from) {
        for (long b = from; b < blockCount; ) {
            if ((b & 15) == 0 && (words.get((int) (b >>> 4)) & 0x1111_1111_1111_1111L) == 0x1111_1111_1111_1111L) {
                b += 16;
                continue;
            }
            if (!isPresent(b)) return b;
            b++;
        }
        return -1;
    }

    /**
     * First block at or after {@code from} that is dirty for {@code target}, or -1. Skips words (16 blocks) with no
     * such bit at once, so a snapshot's cut costs about the disk's size / 16 plus its dirty blocks, not a state read
     * per block (the cut runs with guest writes held).
     */
    public long nextDirty(int target, long from) {
        int dirty = DIRTY_BASE << target;
        long mask = 0x1111_1111_1111_1111L * dirty; // that bit in each of a word's 16 nibbles
        for (long b = Math.max(0, from); b < blockCount; ) {
            long word = words.get((int) (b >>> 4)) & mask;
            if (word == 0) {
                b = (b | 15) + 1;
                continue;
            }
            if (((word >>> ((b & 15) * 4)) & dirty) != 0) return b;
            b++;
        }
        return -1;
    }

    /** Sets bits by CAS; returns the previous nibble. */
    private int setBits(long block, int bits) {
        int i = (int) (block >>> 4);
        int shift = (int) (block & 15) * 4;
        while (true) {
            long old = words.get(i);
            long updated = old | ((long) bits << shift);
            if (old == updated || words.compareAndSet(i, old, updated)) return (int) (old >>> shift) & 0xF;
        }
    }

    private int clearBits(long block, int bits) {
        int i = (int) (block >>> 4);
        int shift = (int) (block & 15) * 4;
        while (true) {
            long old = words.get(i);
            long updated = old & ~((long) bits << shift);
            if (old == updated || words.compareAndSet(i, old, updated)) return (int) (old >>> shift) & 0xF;
        }
    }

    /**
     * Records the intent to write blocks {@code first..last}: sets their dirty bit for every target.
     * Returns the sequence number to pass to {@link #awaitDurable} before the data write may start.
     */
    public long markDirty(long first, long last) {
        long seq = 0;
        commitLock.lock();
        try {
            for (long b = first; b <= last; b++) {
                int old = setBits(b, ALL_DIRTY);
                int page = (int) (b / BLOCKS_PER_PAGE);
                if ((old & ALL_DIRTY) != ALL_DIRTY) {
                    for (int t = 0; t < TARGETS; t++) if ((old & (DIRTY_BASE << t)) == 0) dirtyCount[t].incrementAndGet();
                    pageSeq[page] = ++modSeq;
                    modifiedPages.set(page);
                }
                // Already dirty: the bit may still be on its way to disk for another writer.
                seq = Math.max(seq, pageSeq[page]);
            }
        } finally {
            commitLock.unlock();
        }
        return seq;
    }

    /**
     * Marks an absent block present after its contents were written to the local store, but not yet
     * synced: readable now, persisted as absent until {@link #markSynced}. Returns false (and changes
     * nothing) when the block was already present.
     */
    public boolean markPresentUnsynced(long block) {
        // One CAS that never touches an already present block: setting UNSYNCED on a durably present
        // block, even for an instant, would let a concurrent commit persist it as absent.
        int i = (int) (block >>> 4);
        int shift = (int) (block & 15) * 4;
        while (true) {
            long old = words.get(i);
            if (((old >>> shift) & PRESENT) != 0) return false;
            if (words.compareAndSet(i, old, old | ((long) (PRESENT | UNSYNCED) << shift))) break;
        }
        presentCount.incrementAndGet();
        return true;
    }

    /**
     * Declares the data of {@code blocks[0..n-1]} synced, so their PRESENT bits may be persisted.
     * Contract: the caller synced the local store after those blocks' data writes returned.
     * Returns the sequence number covering this change.
     */
    public long markSynced(long[] blocks, int n) {
        commitLock.lock();
        try {
            for (int i = 0; i < n; i++) {
                clearBits(blocks[i], UNSYNCED);
                int page = (int) (blocks[i] / BLOCKS_PER_PAGE);
                pageSeq[page] = ++modSeq;
                modifiedPages.set(page);
            }
            return modSeq;
        } finally {
            commitLock.unlock();
        }
    }

    /** Sequence number of the latest map change; awaitDurable(currentSeq()) is a map barrier. */
    public long currentSeq() {
        commitLock.lock();
        try {
            return modSeq;
        } finally {
            commitLock.unlock();
        }
    }

    /**
     * Returns once every map change with a sequence number up to {@code seq} is durable. Group commit:
     * the first waiter writes all modified pages and syncs once; others wait for it. May block on I/O.
     * A failed commit fails the map for good (later calls throw): the map is then no longer trusted.
     */
    public void awaitDurable(long seq) throws IOException {
        commitLock.lock();
        try {
            while (durableSeq < seq) {
                if (failure != null) throw new IOException("block map failed earlier", failure);
                if (committing) {
                    committed.awaitUninterruptibly();
                    continue;
                }
                committing = true;
                long target = modSeq;
                BitSet pages = (BitSet) modifiedPages.clone();
                modifiedPages.clear();
                IOException error = null;
                commitLock.unlock();
                try {
                    for (int p = pages.nextSetBit(0); p >= 0; p = pages.nextSetBit(p + 1)) writePage(p);
                    store.sync();
                } catch (IOException | RuntimeException e) {
                    error = e instanceof IOException io ? io : new IOException(e);
                } finally {
                    commitLock.lock();
                    committing = false;
                    committed.signalAll();
                }
                if (error != null) {
                    failure = error;
                    throw error;
                }
                durableSeq = Math.max(durableSeq, target);
            }
        } finally {
            commitLock.unlock();
        }
    }

    /** Writes page {@code p} as it is in memory now, masked as described in the design notes. Called by the committer only. */
    private void writePage(int p) throws IOException {
        long firstBlock = p * BLOCKS_PER_PAGE;
        long lastBlock = Math.min(blockCount, firstBlock + BLOCKS_PER_PAGE) - 1;
        ByteBuffer page = pageBuffer.clear();
        for (long b = firstBlock; b <= lastBlock; b += 2) {
            int lo = storedNibble(b);
            int hi = b + 1 <= lastBlock ? storedNibble(b + 1) : 0;
            page.put((byte) (lo | hi << 4));
        }
        page.flip();
        store.write(HEADER_BYTES + firstBlock / 2, page);
    }

    private int storedNibble(long block) {
        int s = state(block);
        if ((s & UNSYNCED) != 0) s &= ~PRESENT;
        return s & (PRESENT | ALL_DIRTY);
    }

    // ---- write generations for uploads (invariant 5) ----

    /** Notes that an upload to {@code target} is about to read {@code block}'s contents. */
    public void beginUpload(int target, long block) {
        AtomicLongArray bits;
        synchronized (uploading) {
            bits = uploading[target];
            if (bits == null) bits = uploading[target] = new AtomicLongArray((int) ((blockCount + 63) / 64));
        }
        int i = (int) (block >>> 6);
        long mask = 1L << (block & 63);
        while (true) {
            long old = bits.get(i);
            if ((old & mask) != 0 || bits.compareAndSet(i, old, old | mask)) return;
        }
    }

    /** Called after guest data for {@code first..last} was written: any upload that read those blocks earlier is stale. */
    public void noteRewritten(long first, long last) {
        for (int t = 0; t < TARGETS; t++) {
            AtomicLongArray bits = uploading[t];
            if (bits == null) continue;
            for (long b = first; b <= last; b++) {
                int i = (int) (b >>> 6);
                long mask = 1L << (b & 63);
                while (true) {
                    long old = bits.get(i);
                    if ((old & mask) == 0 || bits.compareAndSet(i, old, old & ~mask)) break;
                }
            }
        }
    }

    /**
     * Contract: the caller excludes concurrent guest writes (BlockEngine's upload gate).
     * {@code target} acknowledged the content the upload read after {@link #beginUpload}. Clears the dirty
     * bit only if no guest write completed since then; returns the sequence number to await (0 if
     * nothing changed).
     */
    public long acknowledge(int target, long block) {
        AtomicLongArray bits = uploading[target];
        if (bits == null) return 0;
        int i = (int) (block >>> 6);
        long mask = 1L << (block & 63);
        commitLock.lock();
        try {
            while (true) {
                long old = bits.get(i);
                if ((old & mask) == 0) return 0;
                if (bits.compareAndSet(i, old, old & ~mask)) break;
            }
            int prev = clearBits(block, DIRTY_BASE << target);
            if ((prev & (DIRTY_BASE << target)) == 0) return 0;
            dirtyCount[target].decrementAndGet();
            int page = (int) (block / BLOCKS_PER_PAGE);
            pageSeq[page] = ++modSeq;
            modifiedPages.set(page);
            return modSeq;
        } finally {
            commitLock.unlock();
        }
    }
}

package dev.sluice.agent.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/*
 * Design notes (block engine).
 *
 * The engine is the disk the guest sees: whole blocks, each either PRESENT in the local store or
 * ABSENT (its bytes are the repository's). It owns no threads, sockets or files; callers bring the
 * threads, and the LocalStore / MapStore / BlockSource interfaces bring the I/O.
 *
 * Reads: blocks already present are read from the local store without any lock (PRESENT never goes
 * back to ABSENT while running). Absent blocks are fetched first by the DemandFetcher (single-flight).
 *
 * Writes (write-intent protocol, DESIGN §3 invariants 2 and 4):
 *   1. mark the blocks dirty for every target and wait until that is durable (group commit);
 *   2. a partial write to an absent block first fetches the block;
 *   3. write the data; a whole-block write to an absent block makes it PRESENT|UNSYNCED.
 * Installing a fetched block and a guest write to an absent block are serialized by a per-block lock
 * stripe (256 monitors, no per-block memory), and installing skips blocks that became present, so
 * repository bytes never overwrite guest data.
 *
 * Flush (invariant 3): flushes are serialized; each takes the list of blocks made present since the
 * previous flush, syncs the local store, then marks those blocks synced and waits for the map commit.
 * On return every write acknowledged before the flush started and every map change is durable.
 * The pending list holds 8 bytes per block made present between two flushes (the prefetcher flushes
 * every batch, so it stays small).
 *
 * Memory: the BlockMap's 4 bits per block plus 256 stripe monitors; nothing per request.
 */
public final class BlockEngine {

    /** Tuning knobs; all have sensible defaults. */
    public record Settings(int readAheadBlocks, long fetchTimeoutNanos) {
        public static Settings defaults(Geometry g) {
            return new Settings(Math.max(1, Math.min(64, (4 << 20) / g.blockSize())), 30_000_000_000L);
        }
    }

    private static final int STRIPES = 256;

    private final Geometry geometry;
    private final BlockMap map;
    private final LocalStore store;
    private final Clock clock;
    private final DemandFetcher fetcher;
    private final Object[] stripes = new Object[STRIPES];
    private final ReentrantReadWriteLock uploadGate = new ReentrantReadWriteLock();
    private final Object flushLock = new Object();
    private final Object pendingLock = new Object();
    private long[] pendingSync = new long[64]; // guarded by pendingLock
    private int pendingCount; // guarded by pendingLock
    private final AtomicInteger demandActive = new AtomicInteger();
    private final java.util.concurrent.atomic.AtomicLong demandMisses = new java.util.concurrent.atomic.AtomicLong();
    private volatile TouchTrace touchTrace;
    private volatile long lastDemandNanos;
    private volatile long lastReadNanos; // 0 until the guest's first read
    private volatile long lastIoNanos; // the guest's last read or write started; 0 until its first
    private final AtomicInteger guestsAttached = new AtomicInteger(); // NBD clients in the transmission phase
    private volatile long firstAttachNanos; // 0 until a client first reached the transmission phase
    private volatile BootSetReads bootSetReads;
    private volatile SnapshotCut cut; // changed only under the upload gate's write lock

    public BlockEngine(BlockMap map, LocalStore store, BlockSource source, Clock clock, Settings settings) {
        this(map, store, source, clock, settings, null);
    }

    /**
     * @param readAheadExecutor runs read-ahead fetches in the background so a sequential reader returns
     *                          as soon as its own blocks arrived; null runs them on the reader's thread
     */
    public BlockEngine(BlockMap map, LocalStore store, BlockSource source, Clock clock, Settings settings,
                       java.util.concurrent.Executor readAheadExecutor) {
        this.geometry = map.geometry();
        this.map = map;
        this.store = store;
        this.clock = clock;
        this.lastDemandNanos = clock.nanoTime() - 1_000_000_000_000L;
        for (int i = 0; i < STRIPES; i++) stripes[i] = new Object();
        this.fetcher = new DemandFetcher(this, source, clock, settings, readAheadExecutor);
    }

    public Geometry geometry() {
        return geometry;
    }

    public BlockMap map() {
        return map;
    }

    /**
     * Reads {@code dst.remaining()} bytes at {@code offset} (any alignment, within the disk).
     * Absent blocks are fetched first; throws {@link FetchFailedException} when that fails in time.
     */
    public void read(long offset, ByteBuffer dst) throws IOException {
        if (dst.remaining() == 0) return;
        lastReadNanos = Math.max(1, clock.nanoTime());
        lastIoNanos = lastReadNanos;
        long first = geometry.blockOf(offset);
        long last = geometry.blockOf(offset + dst.remaining() - 1);
        BootSetReads boot = bootSetReads;
        if (boot != null) boot.onRead(first, last);
        TouchTrace trace = touchTrace;
        if (trace != null) trace.record(first, last);
        ensurePresent(first, last, true);
        store.read(offset, dst);
    }

    /** True when every block of the byte range {@code [offset, offset + length)} (length > 0, within the disk) is present. Lock-free. */
    public boolean allPresent(long offset, long length) {
        return map.allPresent(geometry.blockOf(offset), geometry.blockOf(offset + length - 1));
    }

    /**
     * Makes blocks {@code first..last} present (fetching what is absent) without reading them.
     * {@code readAhead}: a sequential miss may fetch further blocks too (reads do; partial writes don't).
     */
    public void ensurePresent(long first, long last, boolean readAhead) throws IOException {
        if (map.allPresent(first, last)) return;
        demandMisses.incrementAndGet();
        demandActive.incrementAndGet();
        lastDemandNanos = clock.nanoTime();
        try {
            fetcher.ensurePresent(first, last, readAhead);
        } finally {
            lastDemandNanos = clock.nanoTime();
            demandActive.decrementAndGet();
        }
    }

    /**
     * Writes whole blocks starting at {@code firstBlock}: {@code src} holds their exact bytes (a short
     * last block of the disk is short). Not durable until {@link #flush()}.
     */
    public void writeBlocks(long firstBlock, ByteBuffer src) throws IOException {
        long offset = geometry.blockOffset(firstBlock);
        long last = geometry.blockOf(offset + src.remaining() - 1);
        if (offset + src.remaining() != Math.min(geometry.sizeBytes(), geometry.blockOffset(last + 1))) {
            throw new IllegalArgumentException("writeBlocks needs whole blocks");
        }
        lastIoNanos = Math.max(1, clock.nanoTime());
        TouchTrace trace = touchTrace;
        if (trace != null) trace.overwritten(firstBlock, last);
        uploadGate.readLock().lock();
        try {
            recordIntent(firstBlock, last);
            copyBeforeWrite(firstBlock, last);
            if (map.allPresent(firstBlock, last)) {
                store.write(offset, src);
            } else {
                ByteBuffer part = src.duplicate();
                for (long b = firstBlock; b <= last; b++) {
                    int start = src.position() + (int) (geometry.blockOffset(b) - offset);
                    part.limit(start + geometry.blockLength(b)).position(start);
                    synchronized (stripe(b)) {
                        store.write(geometry.blockOffset(b), part);
                        if (map.markPresentUnsynced(b)) addPendingSync(b);
                    }
                }
            }
            map.noteRewritten(firstBlock, last);
        } finally {
            uploadGate.readLock().unlock();
        }
    }

    /**
     * Writes {@code src} into one block at {@code offsetInBlock}. A partial write to an absent block
     * fetches the block first (invariant 4). Not durable until {@link #flush()}.
     */
    public void writeWithinBlock(long block, int offsetInBlock, ByteBuffer src) throws IOException {
        if (offsetInBlock < 0 || offsetInBlock + src.remaining() > geometry.blockLength(block)) {
            throw new IllegalArgumentException("write leaves block " + block);
        }
        if (offsetInBlock == 0 && src.remaining() == geometry.blockLength(block)) {
            writeBlocks(block, src);
            return;
        }
        long position = geometry.blockOffset(block) + offsetInBlock;
        lastIoNanos = Math.max(1, clock.nanoTime());
        TouchTrace trace = touchTrace;
        if (trace != null) trace.record(block, block); // the rest of the block comes from the repository
        uploadGate.readLock().lock();
        try {
            recordIntent(block, block);
            copyBeforeWrite(block, block);
            while (true) {
                if (map.isPresent(block)) {
                    store.write(position, src);
                    break;
                }
                synchronized (stripe(block)) {
                    if (map.isPresent(block)) {
                        store.write(position, src);
                        break;
                    }
                }
                ensurePresent(block, block, false);
            }
            map.noteRewritten(block, block);
        } finally {
            uploadGate.readLock().unlock();
        }
    }

    /** Frozen blocks are present (a cut takes only present blocks), so their cut-time bytes are in the store. */
    private void copyBeforeWrite(long first, long last) throws IOException {
        SnapshotCut c = cut;
        if (c != null) c.copyBeforeWrite(first, last, geometry, store);
    }

    private void recordIntent(long first, long last) throws IOException {
        map.noteRewritten(first, last);
        map.awaitDurable(map.markDirty(first, last));
    }

    /**
     * Barrier: on return every write that returned before this call, every installed block and every
     * map change is durable. Serialized with other flushes; blocks on I/O.
     */
    public void flush() throws IOException {
        synchronized (flushLock) {
            long[] blocks;
            int n;
            synchronized (pendingLock) {
                blocks = pendingSync;
                n = pendingCount;
                pendingSync = new long[Math.max(64, Math.min(n, 4096))];
                pendingCount = 0;
            }
            store.sync();
            long seq = map.markSynced(blocks, n);
            map.awaitDurable(Math.max(seq, map.currentSeq()));
        }
    }

    /**
     * Installs repository bytes of an absent block (from a demand fetch or the prefetcher). Returns
     * false, writing nothing, when the block is already present (a guest write or another fetch won).
     * Not durable until {@link #flush()}.
     */
    public boolean install(long block, ByteBuffer data) throws IOException {
        if (map.isPresent(block)) return false;
        if (data.remaining() != geometry.blockLength(block)) {
            throw new IOException("block " + block + " has " + data.remaining() + " bytes, expected " + geometry.blockLength(block));
        }
        synchronized (stripe(block)) {
            if (map.isPresent(block)) return false;
            store.write(geometry.blockOffset(block), data);
            if (map.markPresentUnsynced(block)) addPendingSync(block);
        }
        return true;
    }

    /** Snapshot upload hook: the caller is about to read {@code block} to send it to {@code target}. */
    public void beginUpload(int target, long block) {
        map.beginUpload(target, block);
    }

    /**
     * Snapshot upload hook: {@code target} acknowledged the content read after {@link #beginUpload}.
     * Clears the dirty bit unless a guest write overlapped or followed that read; durable on return.
     */
    public void acknowledge(int target, long block) throws IOException {
        long seq;
        uploadGate.writeLock().lock();
        try {
            seq = map.acknowledge(target, block);
        } finally {
            uploadGate.writeLock().unlock();
        }
        map.awaitDurable(seq);
    }

    // ---- snapshot cuts (see SnapshotCut) ----

    /** The cut being uploaded, or null. */
    public SnapshotCut cut() {
        return cut;
    }

    /**
     * Freezes a point-in-time cut for {@code target}: with guest writes held off, flushes (every acknowledged
     * write is in the cut and durable), takes the blocks dirty for the target and present, stores the cut durably
     * and arms their write generations. Fails if a cut is already active (one upload at a time).
     */
    public SnapshotCut freeze(String operationId, int target, CutStore cutStore) throws IOException {
        uploadGate.writeLock().lock();
        try {
            if (cut != null) throw new IllegalStateException("a snapshot cut for " + cut.operationId() + " is still active");
            flush();
            long n = 0;
            long[] blocks = new long[64];
            for (long b = map.nextDirty(target, 0); b >= 0; b = map.nextDirty(target, b + 1)) {
                if (map.isPresent(b)) {
                    if (n == blocks.length) blocks = Arrays.copyOf(blocks, blocks.length * 2);
                    blocks[(int) n++] = b;
                }
            }
            blocks = Arrays.copyOf(blocks, (int) n);
            cutStore.create(operationId, target, blocks);
            return install(new SnapshotCut(new CutStore.Stored(operationId, target, blocks, new java.util.BitSet()), cutStore));
        } finally {
            uploadGate.writeLock().unlock();
        }
    }

    /** After a restart: reinstates the stored cut, if any (same blocks, same side copies). Returns it or null. */
    public SnapshotCut resume(CutStore cutStore) throws IOException {
        CutStore.Stored stored = cutStore.load();
        if (stored == null) return null;
        uploadGate.writeLock().lock();
        try {
            if (cut != null) throw new IllegalStateException("a snapshot cut is already active");
            return install(new SnapshotCut(stored, cutStore));
        } finally {
            uploadGate.writeLock().unlock();
        }
    }

    /** Upload gate held for writing. Arms the write generation of every frozen block not rewritten since the cut. */
    private SnapshotCut install(SnapshotCut c) {
        for (int slot = 0; slot < c.size(); slot++) {
            if (!c.copied(slot)) map.beginUpload(c.target(), c.block(slot));
        }
        cut = c;
        return c;
    }

    /** Reads frozen block number {@code slot} of the active cut as it was at the cut. */
    public void readAtCut(SnapshotCut c, int slot, ByteBuffer dst) throws IOException {
        c.readAtCut(slot, geometry, store, dst);
    }

    /**
     * The cut's target acknowledged it: clears the target's dirty bit of every frozen block not rewritten since
     * the cut (durable on return), then forgets the cut. Repeating it (a retried acknowledgement after a restart)
     * clears nothing more: a block rewritten in between has a side copy and stays dirty.
     */
    public void acknowledgeCut(SnapshotCut c) throws IOException {
        long seq = 0;
        uploadGate.writeLock().lock();
        try {
            for (int slot = 0; slot < c.size(); slot++) {
                seq = Math.max(seq, map.acknowledge(c.target(), c.block(slot)));
            }
        } finally {
            uploadGate.writeLock().unlock();
        }
        map.awaitDurable(seq);
        drop(c);
    }

    /** Forgets the cut without acknowledging anything (its dirty bits stay set). */
    public void drop(SnapshotCut c) throws IOException {
        uploadGate.writeLock().lock();
        try {
            if (cut == c) cut = null;
            c.delete();
        } finally {
            uploadGate.writeLock().unlock();
        }
    }

    /** From now on, the guest's first touches (reads, hits included, and partial writes) are noted in {@code trace}. */
    public void traceTouches(TouchTrace trace) {
        this.touchTrace = trace;
    }

    /** Guest reads and partial writes that had to wait for blocks from the repository, since start. */
    public long demandMisses() {
        return demandMisses.get();
    }

    /** True while a guest miss is being served. */
    public boolean missInFlight() {
        return demandActive.get() > 0;
    }

    /** From now on, notes which blocks of {@code reads}' boot set the guest reads. */
    public void watchBootSet(BootSetReads reads) {
        this.bootSetReads = reads;
    }

    /** The boot set being watched, or null. */
    public BootSetReads bootSet() {
        return bootSetReads;
    }

    /** True once the guest has read something and then nothing for {@code quietNanos} (hits count too). */
    public boolean guestQuiet(long quietNanos) {
        long last = lastReadNanos;
        return last != 0 && clock.nanoTime() - last >= quietNanos;
    }

    /** True while a guest miss is being served or was served within the last {@code windowNanos}. */
    public boolean demandActive(long windowNanos) {
        return demandActive.get() > 0 || clock.nanoTime() - lastDemandNanos < windowNanos;
    }

    /** True while the guest misses (see {@link #demandActive}) or did any read or write within {@code windowNanos}. */
    public boolean guestBusy(long windowNanos) {
        long last = lastIoNanos;
        return demandActive(windowNanos) || (last != 0 && clock.nanoTime() - last < windowNanos);
    }

    /**
     * An NBD client finished its handshake and may now read and write (a guest attached); pair with
     * {@link #guestDetached()}.
     */
    public void guestAttached() {
        if (firstAttachNanos == 0) firstAttachNanos = Math.max(1, clock.nanoTime());
        guestsAttached.incrementAndGet();
    }

    public void guestDetached() {
        guestsAttached.decrementAndGet();
    }

    /** NBD clients attached right now. */
    public int guestsAttached() {
        return guestsAttached.get();
    }

    /** When a client first attached ({@link Clock#nanoTime()}), or 0 if none has yet. */
    public long firstAttachNanos() {
        return firstAttachNanos;
    }

    private void addPendingSync(long block) {
        synchronized (pendingLock) {
            if (pendingCount == pendingSync.length) pendingSync = Arrays.copyOf(pendingSync, pendingCount * 2);
            pendingSync[pendingCount++] = block;
        }
    }

    private Object stripe(long block) {
        return stripes[(int) (block & (STRIPES - 1))];
    }
}

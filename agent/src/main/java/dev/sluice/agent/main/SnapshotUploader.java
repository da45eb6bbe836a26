package dev.sluice.agent.main;

import dev.sluice.agent.engine.BlockEngine;
import dev.sluice.agent.engine.CutStore;
import dev.sluice.agent.engine.Geometry;
import dev.sluice.agent.engine.SnapshotCut;
import dev.sluice.agent.remote.ControlChannel;
import dev.sluice.agent.remote.SnapshotClient;

import java.io.IOException;
import java.lang.ref.SoftReference;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * Acknowledged snapshot upload (DESIGN §4), agent side, one thread: long-polls the command channel and, for each
 * snapshot command, freezes a cut, sends the target only the frozen blocks it does not hold yet (each with its
 * SHA-256), completes, and on the acknowledgement clears the target's dirty bits of the blocks not rewritten since
 * the cut. A cut left by a killed agent is resumed first, before any new command. Network failures are retried
 * with backoff for as long as it takes; the dirty bits stay set until the acknowledgement, so nothing is lost.
 */
final class SnapshotUploader {
    static final Duration POLL_WAIT = Duration.ofSeconds(25);
    static final long IDLE_MILLIS = 5000;
    /** Block batches sent at once: enough to keep a target that fsyncs every block busy. */
    static final int BATCHES_IN_FLIGHT = 4;
    static final int BATCH_BYTES = 4 << 20;
    static final int MIN_SPREAD_BATCH = 8;
    /** Frame header: index (8), flags (1), length (4), SHA-256 (32). */
    static final int FRAME_HEADER = 45;
    /** Test-only fault injection (SLUICE_AGENT_FAULT=lose-first-ack): the first acknowledgement is dropped as if the connection broke. */
    static final String FAULT_ENV = "SLUICE_AGENT_FAULT";

    private final BlockEngine engine;
    private final CutStore cutStore;
    private final ControlChannel channel;
    private final List<String> targetNames; // index t-1 = target t; target 0 is the repository
    private final List<SnapshotClient> clients; // index t
    private final long bytesPerSecond;
    private final Consumer<String> log;
    private final Set<String> finished = ConcurrentHashMap.newKeySet();
    private final AtomicLong blocksSent = new AtomicLong();
    private final AtomicLong bytesSent = new AtomicLong();
    private final ExecutorService senders = Executors.newFixedThreadPool(BATCHES_IN_FLIGHT, r -> {
        Thread t = new Thread(r, "snapshot-send");
        t.setDaemon(true);
        return t;
    });
    /** The batch buffers of the last snapshot, for the next (uploader thread only). */
    private SoftReference<ByteBuffer[]> spare = new SoftReference<>(null);
    private volatile boolean loseNextAck;
    private volatile boolean stopped;
    private Thread thread;
    /** Guards {@link #inFileIo} against {@link #stop()}'s interrupt. */
    private final Object interruptLock = new Object();
    /** The uploader thread is in the engine's file I/O (cut, map): {@link #stop()} must not interrupt it there. */
    private boolean inFileIo;

    SnapshotUploader(BlockEngine engine, CutStore cutStore, ControlChannel channel, List<String> targetNames,
                     List<SnapshotClient> clients, long bytesPerSecond, Consumer<String> log) {
        this.engine = engine;
        this.cutStore = cutStore;
        this.channel = channel;
        this.targetNames = targetNames;
        this.clients = clients;
        this.bytesPerSecond = bytesPerSecond;
        this.log = log;
        this.loseNextAck = "lose-first-ack".equals(System.getenv(FAULT_ENV));
    }

    void start() {
        thread = new Thread(this::run, "snapshot-uploader");
        thread.setDaemon(true);
        thread.start();
    }

    /**
     * Stops the uploader. Its thread is interrupted only while it waits (long poll, backoff, batches on their way):
     * an interrupt inside FileChannel I/O closes that channel (FileChannel is interruptible), and the cache file's or
     * the map's channel closed at SIGTERM made the agent's final flush fail. Out of its file I/O, the thread
     * interrupts itself once it sees it is stopping.
     */
    void stop() {
        stopped = true;
        synchronized (interruptLock) {
            if (thread != null && !inFileIo) thread.interrupt();
        }
        // No interrupts for the senders: one that lands while a sender reads the cache file closes that file's
        // channel (FileChannel is interruptible) for the agent's final flush too. A batch on its way ends with its
        // request (or with the JVM); its blocks stay dirty until acknowledged either way.
        senders.shutdown();
    }

    long blocksSent() {
        return blocksSent.get();
    }

    long bytesSent() {
        return bytesSent.get();
    }

    private void run() {
        try {
            SnapshotCut left = fileIo(() -> engine.resume(cutStore));
            if (left != null) {
                log.accept("snapshot: resuming the cut of " + left.operationId() + " (" + left.size() + " blocks, target " + left.target() + ")");
                upload(left, false);
            }
            long backoff = 200;
            while (!stopped) {
                List<ControlChannel.Command> commands;
                try {
                    commands = channel.poll(POLL_WAIT);
                    backoff = 200;
                } catch (IOException e) {
                    if (stopped) return;
                    if (backoff == 200) log.accept("snapshot: command poll failed (" + e.getMessage() + "); retrying quietly");
                    sleep(backoff);
                    backoff = Math.min(5000, backoff * 2);
                    continue;
                }
                boolean worked = false;
                for (ControlChannel.Command c : commands) {
                    if (!"snapshot".equals(c.kind()) || c.operationId() == null || finished.contains(c.operationId())) continue;
                    worked = true;
                    int target = targetIndex(c.target());
                    if (target < 0) {
                        log.accept("snapshot: " + c.operationId() + " names target '" + c.target() + "', which this agent does not have (--target NAME=URL)");
                        finished.add(c.operationId());
                        continue;
                    }
                    SnapshotCut cut;
                    try {
                        cut = fileIo(() -> engine.freeze(c.operationId(), target, cutStore));
                    } catch (IOException e) {
                        // Nothing frozen, every bit still dirty: the command comes back on the next poll.
                        if (stopped) return;
                        log.accept("snapshot: could not freeze a cut for " + c.operationId() + " (" + e.getMessage() + "); will retry");
                        sleep(IDLE_MILLIS);
                        continue;
                    }
                    log.accept("snapshot: cut for " + c.operationId() + " (" + c.name() + ", target " + target + "): " + cut.size() + " blocks");
                    upload(cut, true);
                }
                // Only commands this agent cannot act on are pending: they come back at once, so do not spin.
                if (!worked && !commands.isEmpty()) sleep(IDLE_MILLIS);
            }
        } catch (InterruptedException e) {
            // stopping
        } catch (IOException | RuntimeException e) {
            log.accept("snapshot: uploader stopped: " + e);
        }
    }

    /** File I/O of the engine on the uploader thread. */
    private interface FileIo<T> {
        T run() throws IOException;
    }

    /**
     * Runs {@code io} where {@link #stop()} does not interrupt; refuses to start it once stopping (an interrupt may
     * already be pending, and the first channel operation would close its channel).
     */
    private <T> T fileIo(FileIo<T> io) throws IOException {
        synchronized (interruptLock) {
            if (stopped || Thread.currentThread().isInterrupted()) throw new java.io.InterruptedIOException("stopping");
            inFileIo = true;
        }
        try {
            return io.run();
        } finally {
            synchronized (interruptLock) {
                inFileIo = false;
            }
            if (stopped) Thread.currentThread().interrupt();
        }
    }

    private int targetIndex(String name) {
        if (name == null) return 0;
        int i = targetNames.indexOf(name);
        return i < 0 ? -1 : i + 1;
    }

    /**
     * Uploads the cut until its target acknowledges it (or refuses it for good); then forgets the cut.
     *
     * <p>{@code fresh}: the cut was frozen just now for a command, so the target has received nothing of it yet
     * (its blocks go out only after the cut is stored, and a stored cut is resumed, never frozen again). The first
     * round then sends the blocks at once: every batch names the cut, which declares it to the target, so the
     * declaration's request (a round trip and a transaction on the target, competing with the first batches) is
     * not needed. Any failure falls back to the usual round: declare, learn what the target holds, send the rest.
     */
    private void upload(SnapshotCut cut, boolean fresh) throws IOException, InterruptedException {
        SnapshotClient client = clients.get(cut.target());
        String op = cut.operationId();
        long backoff = 200;
        boolean first = fresh;
        while (!stopped) {
            try {
                SnapshotClient.Ack ack;
                if (first) {
                    first = false;
                    ack = sendMissing(client, cut, Set.of());
                } else {
                    SnapshotClient.UploadState state = client.declareCut(op, cut.size());
                    ack = state.snapshotId() == null ? sendMissing(client, cut, state.received()) : null;
                }
                // The batch that completed the cut usually brought the acknowledgement; else (another batch finished
                // last, or nothing was left to send) complete asks for it.
                if (ack == null) ack = client.complete(op, cut.size(), cut.digest());
                if (loseNextAck) {
                    loseNextAck = false;
                    throw new IOException("fault injection: the acknowledgement of " + op + " was lost");
                }
                fileIo(() -> {
                    engine.acknowledgeCut(cut);
                    return null;
                });
                finished.add(op);
                log.accept("snapshot: " + op + " acknowledged as " + ack.snapshotId() + " (image " + ack.imageId() + "); dirty[" + cut.target()
                        + "] cleared for the blocks not rewritten since the cut");
                return;
            } catch (SnapshotClient.Refused e) {
                if (e.status != 409) {
                    log.accept("snapshot: " + op + " refused (" + e.getMessage() + "); dropping the cut, its blocks stay dirty");
                    fileIo(() -> {
                        engine.drop(cut);
                        return null;
                    });
                    finished.add(op);
                    return;
                }
                log.accept("snapshot: " + op + ": " + e.getMessage() + "; starting the round again");
            } catch (IOException e) {
                if (stopped) return; // the stored cut is resumed at the next start
                log.accept("snapshot: " + op + " upload interrupted (" + e.getMessage() + "); retrying");
                sleep(backoff);
                backoff = Math.min(5000, backoff * 2);
            }
        }
    }

    /**
     * Sends the frozen blocks the target does not hold, in batches of up to 4 MiB, {@link #BATCHES_IN_FLIGHT}
     * requests at a time: the target answers a batch only once its blocks are durable, and one request after the
     * other left both sides waiting most of the time. Each batch is read and hashed by the sender thread that sends
     * it, so up to {@link #BATCHES_IN_FLIGHT} batches are prepared at once (one thread reading and hashing every
     * block was what a small snapshot waited for: 61 ms of the 150 of a 10 MiB cut). Every batch names the cut, so
     * the one that completes it is committed by the target at once: returns that acknowledgement, or null. If a
     * batch fails, the others in flight are waited for (so the retry's "what do you hold" sees them) and the first
     * failure is thrown.
     */
    private SnapshotClient.Ack sendMissing(SnapshotClient client, SnapshotCut cut, Set<Long> received) throws IOException, InterruptedException {
        Geometry g = engine.geometry();
        // 4 MiB requests (at most 64 frames): progress and resume points every 4 MiB; each request costs the target two
        // transactions, so batches much smaller than that make the upload pay per request rather than per byte.
        int maxPerBatch = Math.max(1, Math.min(64, BATCH_BYTES / g.blockSize()));
        int[] slots = new int[cut.size()];
        int toSend = 0;
        for (int slot = 0; slot < cut.size(); slot++) if (!received.contains(cut.block(slot))) slots[toSend++] = slot;
        // A small cut is spread over all the requests in flight (164 blocks: four of 41, not 64 + 64 + 36), as the
        // batches run in parallel and the slowest one decides when the cut is complete; not below 8 blocks, where
        // the per-request cost would take over.
        int perBatch = Math.min(maxPerBatch, Math.max(MIN_SPREAD_BATCH, (toSend + BATCHES_IN_FLIGHT - 1) / BATCHES_IN_FLIGHT));
        // Sized for the largest batch, so every snapshot can reuse them whatever its size.
        ArrayDeque<ByteBuffer> free = takeBuffers(maxPerBatch * (FRAME_HEADER + g.blockSize()));
        ArrayDeque<Batch> inFlight = new ArrayDeque<>();
        long started = System.nanoTime();
        long sentBytes = 0;
        String cutDigest = cut.digest();
        AtomicReference<SnapshotClient.Ack> committed = new AtomicReference<>();
        try {
            for (int from = 0; from < toSend; from += perBatch) {
                if (inFlight.size() == BATCHES_IN_FLIGHT) free.add(finish(inFlight.removeFirst()));
                int to = Math.min(toSend, from + perBatch);
                inFlight.add(send(client, cut, cutDigest, slots, from, to, free.removeFirst(), committed));
                for (int i = from; i < to; i++) sentBytes += FRAME_HEADER + g.blockLength(cut.block(slots[i]));
                throttle(started, sentBytes);
            }
            while (!inFlight.isEmpty()) free.add(finish(inFlight.removeFirst()));
            spare = new SoftReference<>(free.toArray(new ByteBuffer[0]));
            return committed.get();
        } finally {
            // Only after a failure: let the other batches end (their result is what the retry asks the target for).
            // When stopping, do not wait: stop() shut the senders down, and a batch that never started never ends
            // (cancelled without an interrupt, for the reason in stop()).
            for (Batch b : inFlight) {
                if (stopped) {
                    b.done().cancel(false);
                    continue;
                }
                try {
                    b.done().get();
                } catch (ExecutionException | CancellationException ignored) {
                    // the first failure is already being thrown
                }
            }
        }
    }

    /**
     * {@link #BATCHES_IN_FLIGHT} batch buffers of {@code bytes} each: those the last snapshot left (kept softly: the
     * collector may take them back under memory pressure), else new ones. Allocating them per snapshot (4 x 4 MiB,
     * humongous objects for G1) took 7 ms of a 10 MiB snapshot's ~100 (bench/snapshot.sh, 1 %, agent timers).
     */
    private ArrayDeque<ByteBuffer> takeBuffers(int bytes) {
        ByteBuffer[] kept = spare.get();
        spare = new SoftReference<>(null);
        ArrayDeque<ByteBuffer> free = new ArrayDeque<>();
        if (kept != null) for (ByteBuffer b : kept) if (b.capacity() == bytes) free.add(b.clear());
        while (free.size() < BATCHES_IN_FLIGHT) free.add(ByteBuffer.allocate(bytes));
        return free;
    }

    /**
     * Frames the cut's blocks {@code slots[from..to)} into {@code out}: each block is read straight into its frame's
     * place (no copy), then the header is written in front of it; a zero block's frame ends after its header.
     */
    private void frame(SnapshotCut cut, int[] slots, int from, int to, ByteBuffer out) throws IOException {
        Geometry g = engine.geometry();
        MessageDigest sha = SHA256.get();
        for (int i = from; i < to; i++) {
            int slot = slots[i];
            long index = cut.block(slot);
            int header = out.position();
            int length = g.blockLength(index);
            ByteBuffer data = out.slice(header + FRAME_HEADER, length);
            engine.readAtCut(cut, slot, data);
            data.flip();
            boolean zero = isZero(data);
            sha.update(data.duplicate());
            out.putLong(header, index).put(header + 8, (byte) (zero ? 1 : 0)).putInt(header + 9, zero ? 0 : length)
                    .put(header + 13, sha.digest());
            out.position(header + FRAME_HEADER + (zero ? 0 : length));
        }
    }

    /** One batch request on its way; {@code frames} is reused once it is done. */
    private record Batch(Future<?> done, ByteBuffer frames) {
    }

    /** Frames and sends {@code slots[from..to)} on a sender thread into {@code frames} (cleared); an acknowledgement goes to {@code committed}. */
    private Batch send(SnapshotClient client, SnapshotCut cut, String cutDigest, int[] slots, int from, int to, ByteBuffer frames,
                       AtomicReference<SnapshotClient.Ack> committed) {
        Future<?> done = senders.submit(() -> {
            frame(cut, slots, from, to, frames);
            int length = frames.position();
            SnapshotClient.Ack ack = client.sendBlocks(cut.operationId(), frames.array(), length, cut.size(), cutDigest);
            if (ack != null) committed.set(ack);
            blocksSent.addAndGet(to - from);
            bytesSent.addAndGet(length);
            return null;
        });
        return new Batch(done, frames);
    }

    /** Waits for the batch; returns its buffer, cleared, or throws what its request threw. */
    private static ByteBuffer finish(Batch b) throws IOException, InterruptedException {
        try {
            b.done().get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) throw io;
            if (e.getCause() instanceof RuntimeException r) throw r;
            throw new IOException(e.getCause());
        }
        return b.frames().clear();
    }

    private void throttle(long startedNanos, long sentBytes) throws InterruptedException {
        if (bytesPerSecond <= 0) return;
        long dueNanos = startedNanos + (long) (sentBytes * 1e9 / bytesPerSecond);
        long wait = dueNanos - System.nanoTime();
        if (wait > 0) Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
    }

    /** All zero bytes? (mismatch against zeros: the JDK compares them many bytes at a time) */
    static boolean isZero(ByteBuffer b) {
        ByteBuffer zeros = ZEROS.duplicate();
        for (int at = b.position(); at < b.limit(); at += zeros.capacity()) {
            int n = Math.min(zeros.capacity(), b.limit() - at);
            if (b.slice(at, n).mismatch(zeros.limit(n)) >= 0) return false;
        }
        return true;
    }

    private static final ByteBuffer ZEROS = ByteBuffer.allocate(64 << 10).asReadOnlyBuffer();

    /** One digest per sender thread (a MessageDigest is not thread-safe). */
    private static final ThreadLocal<MessageDigest> SHA256 = ThreadLocal.withInitial(() -> {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    });

    private static void sleep(long millis) throws InterruptedException {
        Thread.sleep(millis);
    }
}

package dev.sluice.upload;

import dev.sluice.blockstore.BlockDigest;
import dev.sluice.blockstore.BlockStore;
import dev.sluice.blockstore.ZeroBlocks;
import dev.sluice.manifest.ManifestFormat;
import dev.sluice.platform.problem.ApiException;
import dev.sluice.platform.problem.ProblemType;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Turns one request body into stored blocks and recorded segments, on a worker thread, with bounded memory.
 *
 * <p>Design notes. The event loop only moves buffers into {@link #offer} and pauses the request while more than
 * {@link #MAX_QUEUED_BYTES} wait; this thread cuts the stream into blocks, and up to {@link #MAX_IN_FLIGHT}
 * blocks are hashed and stored in parallel on the block I/O pool (a file store fsyncs each block, so parallel
 * puts are what makes uploads run at disk speed). Results are consumed strictly in block order, so segments are
 * recorded in order and each one names only blocks whose puts have returned. Heap per upload is bounded by
 * (queued bytes + in-flight blocks + one segment): about 40 MiB at 4 MiB blocks, 3 MiB at 64 KiB.
 */
public final class UploadPipeline {
    static final long MAX_QUEUED_BYTES = 8L << 20;
    static final int MAX_IN_FLIGHT = 8;
    private static final Object END = new Object();
    private static final Object ABORT = new Object();

    /** How the part ended. */
    enum Outcome { COMPLETE, TOO_SHORT, TOO_LONG, DIGEST_MISMATCH, ABORTED }

    private record Stored(BlockDigest digest, boolean fresh, int length) {
    }

    /**
     * The request body as a queue between the event loop and the pipeline. It is attached as soon as the request
     * arrives (before authentication finishes), so no chunk can be lost; it pauses the request whenever more than
     * {@link #MAX_QUEUED_BYTES} wait, and the pipeline resumes it as it drains.
     */
    /** An upload's Content-Length header as a number, or null without one; one that is not a number is a 400. */
    public static Long contentLength(String header) {
        if (header == null) {
            return null;
        }
        try {
            return Long.parseLong(header.trim());
        } catch (NumberFormatException e) {
            throw ApiException.field(ProblemType.INVALID_PARAMETER, "Content-Length", "not a number");
        }
    }

    public static final class Body {
        /**
         * The body of {@code request}, fed by its handlers and paused until read: flow control (pause when the queue
         * is full, resume when it drained) runs on the request's event loop; an error or a closed connection aborts it.
         */
        public static Body of(Vertx vertx, HttpServerRequest request) {
            Context eventLoop = vertx.getOrCreateContext();
            Body body = new Body(
                    () -> eventLoop.runOnContext(v -> request.pause()),
                    () -> eventLoop.runOnContext(v -> request.resume()));
            request.handler(body::offer);
            request.endHandler(v -> body.end());
            request.exceptionHandler(t -> body.abort());
            request.connection().closeHandler(v -> body.abort());
            request.pause();
            return body;
        }

        private final LinkedBlockingQueue<Object> queue = new LinkedBlockingQueue<>();
        private final Runnable pause;
        private final Runnable resume;
        // Guarded by this.
        private long queuedBytes;
        private boolean paused;

        public Body(Runnable pause, Runnable resume) {
            this.pause = pause;
            this.resume = resume;
        }

        /*
         * The byte count and the paused flag change together under this monitor. Without it, the event loop could
         * count a chunk past the limit, lose the CPU, and set `paused` only after the pipeline had drained the whole
         * queue while still seeing `paused` false: the request then stayed paused with nobody left to resume it, the
         * pipeline waited on an empty queue, and the upload stalled until its 10-minute timeout (seen under load).
         * Under the monitor, a pause is only ever taken with more than the limit queued, so draining those bytes
         * always crosses the resume threshold with `paused` visible. pause/resume only enqueue event-loop tasks, so
         * they run in the order they were decided.
         */

        /** Event loop: a chunk of the body. */
        public void offer(Buffer chunk) {
            queue.add(chunk);
            synchronized (this) {
                queuedBytes += chunk.length();
                if (queuedBytes > MAX_QUEUED_BYTES && !paused) {
                    paused = true;
                    pause.run();
                }
            }
        }

        /** Event loop: the body ended normally. */
        public void end() {
            queue.add(END);
        }

        /** Event loop: the connection broke. */
        public void abort() {
            queue.add(ABORT);
        }

        /** Worker: the next chunk (a {@link Buffer}), or the end ({@link #isEnd}) or a broken connection ({@link #isAbort}); null after 10 minutes. */
        public Object take() throws InterruptedException {
            Object item = queue.poll(10, TimeUnit.MINUTES);
            if (item instanceof Buffer chunk) {
                synchronized (this) {
                    queuedBytes -= chunk.length();
                    if (queuedBytes < MAX_QUEUED_BYTES / 2 && paused) {
                        paused = false;
                        resume.run();
                    }
                }
            }
            return item;
        }

        public static boolean isEnd(Object item) {
            return item == END;
        }

        public static boolean isAbort(Object item) {
            return item == ABORT;
        }

        public synchronized void release() {
            if (paused) {
                paused = false;
                resume.run();
            }
        }
    }

    private final ContentService content;
    private final BlockStore store;
    private final ExecutorService blockIo;
    private final ContentService.Part part;
    private final Body body;
    /** SHA-256 the client declared for the whole body (RFC 9530 Content-Digest), or null. */
    private final byte[] declaredDigest;

    UploadPipeline(ContentService content, BlockStore store, ExecutorService blockIo, ContentService.Part part, Body body,
                   byte[] declaredDigest) {
        this.content = content;
        this.store = store;
        this.blockIo = blockIo;
        this.part = part;
        this.body = body;
        this.declaredDigest = declaredDigest;
    }

    /** Worker thread: runs the part to its end; records progress for every complete block received. */
    Outcome run() throws Exception {
        SegmentBuilder segment = new SegmentBuilder(part.startBlock());
        ArrayDeque<CompletableFuture<Stored>> inFlight = new ArrayDeque<>();
        long block = part.startBlock();
        byte[] current = block < part.endBlock() ? new byte[part.blockLength(block)] : null;
        int filled = 0;
        long received = 0;
        java.security.MessageDigest whole = declaredDigest == null ? null : java.security.MessageDigest.getInstance("SHA-256");
        Outcome outcome;
        while (true) {
            Object item = body.take();
            if (item == null || item == ABORT) {
                outcome = Outcome.ABORTED;
                break;
            }
            if (item == END) {
                outcome = received == part.expectedBytes() ? Outcome.COMPLETE : Outcome.TOO_SHORT;
                break;
            }
            Buffer chunk = (Buffer) item;
            received += chunk.length();
            if (received > part.expectedBytes()) {
                outcome = Outcome.TOO_LONG;
                break;
            }
            if (whole != null) {
                whole.update(chunk.getByteBuf().nioBuffer());
            }
            int pos = 0;
            while (pos < chunk.length()) {
                int n = Math.min(chunk.length() - pos, current.length - filled);
                chunk.getBytes(pos, pos + n, current, filled);
                pos += n;
                filled += n;
                if (filled == current.length) {
                    byte[] full = current;
                    inFlight.add(CompletableFuture.supplyAsync(() -> store(full), blockIo));
                    while (inFlight.size() >= MAX_IN_FLIGHT) {
                        segment.add(inFlight.removeFirst().get());
                    }
                    block++;
                    current = block < part.endBlock() ? new byte[part.blockLength(block)] : null;
                    filled = 0;
                }
            }
        }
        body.release();
        // Every block whose put was started completes and is recorded (its bytes were complete and verified
        // by hashing); a trailing partial block is dropped.
        while (!inFlight.isEmpty()) {
            segment.add(inFlight.removeFirst().get());
        }
        if (outcome == Outcome.COMPLETE && whole != null && !java.security.MessageDigest.isEqual(whole.digest(), declaredDigest)) {
            outcome = Outcome.DIGEST_MISMATCH;
        }
        if (outcome != Outcome.COMPLETE && outcome != Outcome.ABORTED) {
            content.rollback(part);
            return outcome;
        }
        segment.flush();
        return outcome;
    }

    private Stored store(byte[] data) {
        if (ZeroBlocks.isZero(data)) {
            return new Stored(null, false, data.length);
        }
        BlockDigest digest = BlockDigest.of(data);
        boolean fresh = store.put(part.tenantId(), digest, data);
        return new Stored(digest, fresh, data.length);
    }

    /** Collects digests of consecutive blocks into segments and records each as it fills. */
    private final class SegmentBuilder {
        private int segmentNo;
        private final byte[] entries = new byte[ManifestFormat.SEGMENT_ENTRIES * BlockDigest.LENGTH];
        private int count;
        private int zero;
        private int fresh;
        private long freshBytes;
        private boolean dirty;

        SegmentBuilder(long startBlock) {
            segmentNo = (int) (startBlock / ManifestFormat.SEGMENT_ENTRIES);
            byte[] prefix = part.prefixEntries();
            System.arraycopy(prefix, 0, entries, 0, prefix.length);
            count = prefix.length / BlockDigest.LENGTH;
            for (int i = 0; i < count; i++) {
                if (ManifestFormat.entry(entries, i) == null) {
                    zero++;
                }
            }
        }

        void add(Stored s) {
            int off = count * BlockDigest.LENGTH;
            if (s.digest() == null) {
                Arrays.fill(entries, off, off + BlockDigest.LENGTH, (byte) 0);
                zero++;
            } else {
                System.arraycopy(s.digest().toBytes(), 0, entries, off, BlockDigest.LENGTH);
                if (s.fresh()) {
                    fresh++;
                    freshBytes += s.length();
                }
            }
            count++;
            dirty = true;
            if (count == ManifestFormat.entriesInSegment(part.blockCount(), segmentNo)) {
                flush();
                segmentNo++;
                count = 0;
                zero = 0;
                fresh = 0;
                freshBytes = 0;
            }
        }

        void flush() {
            if (dirty && count > 0) {
                content.recordSegment(part, segmentNo, entries, count, zero, fresh, freshBytes);
            }
            dirty = false;
        }
    }
}

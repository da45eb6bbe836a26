package dev.sluice.blockstream;

import dev.sluice.blockstore.BlockDigest;
import dev.sluice.platform.problem.ProblemWriter;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * Streams a run of blocks to a response without blocking the event loop and without unbounded buffering.
 *
 * <p>Design notes: one pump loop, confined to the request's event-loop context. Each turn either writes the
 * next block or stops and leaves exactly one continuation: the response's drain (the client is slow) or the
 * completion of the oldest outstanding load. One continuation at a time is what keeps the stream in order.
 * Blocks whose manifest segment and bytes are cached are written straight from the event loop (no thread hop:
 * this is what makes small random reads cheap). Misses are loaded in batches of about {@link #BATCH_BYTES} on
 * worker threads, up to {@link #MAX_BATCHES} batches in parallel (reading and verifying a block costs more
 * than sending it, so cold sequential reads need that parallelism); results are consumed strictly in order.
 * Heap per request is bounded by MAX_BATCHES × BATCH_BYTES (or that many blocks, for blocks larger than a
 * batch). A failure after the headers went out closes the connection: a client sees a short body, never wrong
 * bytes.
 */
final class BlockStreamer {
    static final int BATCH_BYTES = 256 << 10;
    /** Blocks available at once are sent in one write of up to this many bytes (fewer syscalls and flushes). */
    static final int WRITE_BYTES = 1 << 20;
    static final int MAX_BATCHES = 4;

    /**
     * Encodes one block as the bytes to send. {@code block} holds exactly the block's bytes from position 0; it is
     * a fresh read-only view (the encoder may move its position and limit) of memory shared with the cache, usually
     * direct: wrap it, do not copy it.
     */
    interface Encoder {
        ByteBuf encode(long index, BlockDigest digest, ByteBuffer block);
    }

    private record Loaded(long index, BlockDigest digest, ByteBuffer bytes) {
    }

    private final RoutingContext rc;
    private final Context context;
    private final Executor workers;
    private final ImageContent content;
    private final ServedImage image;
    private final long last;
    private final int blocksPerBatch;
    private final Encoder encoder;
    private final ArrayDeque<Loaded> ready = new ArrayDeque<>();
    private final ArrayDeque<CompletableFuture<List<Loaded>>> loading = new ArrayDeque<>();
    /** Next block to write. */
    private long next;
    /** Next block not yet ready nor being loaded; always ≥ next. */
    private long nextToLoad;
    /** Told (once, on the event loop) when a block is not in memory and must be loaded. */
    private Runnable onMiss;

    BlockStreamer(RoutingContext rc, Vertx vertx, Executor workers, ImageContent content, ServedImage image, long firstBlock,
                  long lastBlock, Encoder encoder) {
        this.rc = rc;
        this.context = vertx.getOrCreateContext();
        this.workers = workers;
        this.content = content;
        this.image = image;
        this.last = lastBlock;
        this.blocksPerBatch = Math.max(1, BATCH_BYTES / image.blockSize());
        this.encoder = encoder;
        this.next = firstBlock;
        this.nextToLoad = firstBlock;
    }

    /** Calls {@code onMiss} (once, on the event loop; it must not block) the first time a block must be loaded. */
    BlockStreamer onMiss(Runnable onMiss) {
        this.onMiss = onMiss;
        return this;
    }

    void start() {
        pump();
    }

    private void pump() {
        HttpServerResponse response = rc.response();
        List<ByteBuf> pending = new ArrayList<>();
        int pendingBytes = 0;
        try {
            while (next <= last) {
                if (response.closed()) {
                    return;
                }
                if (pendingBytes >= WRITE_BYTES) {
                    flush(response, pending);
                    pendingBytes = 0;
                }
                if (response.writeQueueFull()) {
                    response.drainHandler(v -> {
                        response.drainHandler(null);
                        pump();
                    });
                    return;
                }
                Loaded block = ready.poll();
                if (block == null && loading.isEmpty()) {
                    block = cached(next);
                    if (block != null) {
                        nextToLoad = next + 1;
                    }
                }
                if (block != null) {
                    ByteBuf encoded = encoder.encode(block.index(), block.digest(), block.bytes());
                    pending.add(encoded);
                    pendingBytes += encoded.readableBytes();
                    next++;
                    continue;
                }
                flush(response, pending);
                pendingBytes = 0;
                if (onMiss != null) {
                    Runnable missed = onMiss;
                    onMiss = null;
                    missed.run();
                }
                while (loading.size() < MAX_BATCHES && nextToLoad <= last) {
                    long from = nextToLoad;
                    long to = Math.min(last, from + blocksPerBatch - 1);
                    loading.add(CompletableFuture.supplyAsync(() -> load(from, to), workers));
                    nextToLoad = to + 1;
                }
                CompletableFuture<List<Loaded>> head = loading.peek();
                if (!head.isDone()) {
                    flush(response, pending);
                    head.whenComplete((r, t) -> context.runOnContext(v -> pump()));
                    return;
                }
                loading.poll();
                ready.addAll(head.join());
            }
            if (pending.isEmpty()) {
                response.end();
            } else {
                response.end(joined(pending));
            }
        } catch (RuntimeException e) {
            Throwable cause = e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e;
            ProblemWriter.write(rc, cause);
        }
    }

    private static void flush(HttpServerResponse response, List<ByteBuf> pending) {
        if (!pending.isEmpty()) {
            response.write(joined(pending));
            pending.clear();
        }
    }

    /** One buffer over the pending ones without copying (a composite of views; one buffer stays itself). */
    private static Buffer joined(List<ByteBuf> pending) {
        return Buffer.buffer(pending.size() == 1 ? pending.get(0) : Unpooled.wrappedBuffer(pending.toArray(new ByteBuf[0])));
    }

    /** The block from memory, or null if getting it could block. */
    private Loaded cached(long index) {
        ImageContent.Cached hit = content.cached(image, index);
        return hit == null ? null : new Loaded(index, hit.digest(), hit.bytes());
    }

    /** Worker thread: reads and verifies blocks [from, to]. */
    private List<Loaded> load(long from, long to) {
        List<Loaded> batch = new ArrayList<>((int) (to - from + 1));
        for (long i = from; i <= to; i++) {
            BlockDigest digest = content.digest(image, i);
            batch.add(new Loaded(i, digest, content.block(image, i, digest)));
        }
        return batch;
    }
}

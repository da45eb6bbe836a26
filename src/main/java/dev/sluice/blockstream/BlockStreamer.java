package dev.sluice.blockstream;

import dev.sluice.blockstore.BlockDigest;
import dev.sluice.platform.problem.ProblemWriter;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;
import java.util.ArrayDeque;
import java.util.concurrent.Executor;

/**
 * Streams a run of blocks to a response without blocking the event loop and without unbounded buffering.
 *
 * <p>Design notes: one pump loop, confined to the request's event-loop context. Each turn either writes the
 * next block, or stops and schedules exactly one continuation: the response's drain (client is slow), or a
 * worker load (block not in memory). A single continuation at a time is what keeps the stream in order.
 * Blocks whose manifest segment and bytes are already cached are written straight from the event loop (no
 * thread hop: this is what makes small random reads cheap); a miss loads {@link #READ_AHEAD} blocks in one
 * worker task, so cold sequential reads make one hop per 256 KiB at 64 KiB blocks. A failure after the headers
 * went out closes the connection: a client sees a short body, never wrong bytes.
 */
final class BlockStreamer {
    static final int READ_AHEAD = 4;

    /** Encodes one block (its bytes may be a shared buffer longer than the block) as the bytes to send. */
    interface Encoder {
        Buffer encode(long index, BlockDigest digest, byte[] sharedBytes);
    }

    private record Loaded(long index, BlockDigest digest, byte[] bytes) {
    }

    private final RoutingContext rc;
    private final Context context;
    private final Executor workers;
    private final ImageContent content;
    private final ServedImage image;
    private final long last;
    private final Encoder encoder;
    private final ArrayDeque<Loaded> loaded = new ArrayDeque<>();
    private long next;

    BlockStreamer(RoutingContext rc, Vertx vertx, Executor workers, ImageContent content, ServedImage image, long firstBlock,
                  long lastBlock, Encoder encoder) {
        this.rc = rc;
        this.context = vertx.getOrCreateContext();
        this.workers = workers;
        this.content = content;
        this.image = image;
        this.last = lastBlock;
        this.encoder = encoder;
        this.next = firstBlock;
    }

    void start() {
        pump();
    }

    private void pump() {
        HttpServerResponse response = rc.response();
        try {
            while (next <= last) {
                if (response.closed()) {
                    return;
                }
                if (response.writeQueueFull()) {
                    response.drainHandler(v -> {
                        response.drainHandler(null);
                        pump();
                    });
                    return;
                }
                Loaded block = loaded.isEmpty() ? cached(next) : loaded.poll();
                if (block == null) {
                    load(next);
                    return;
                }
                response.write(encoder.encode(block.index(), block.digest(), block.bytes()));
                next++;
            }
            response.end();
        } catch (RuntimeException e) {
            ProblemWriter.write(rc, e);
        }
    }

    /** The block from memory, or null if getting it could block. */
    private Loaded cached(long index) {
        ImageContent.Cached hit = content.cached(image, index);
        return hit == null ? null : new Loaded(index, hit.digest(), hit.bytes());
    }

    private void load(long from) {
        long to = Math.min(last, from + READ_AHEAD - 1);
        workers.execute(() -> {
            ArrayDeque<Loaded> batch = new ArrayDeque<>();
            Throwable failure = null;
            try {
                for (long i = from; i <= to; i++) {
                    BlockDigest digest = content.digest(image, i);
                    batch.add(new Loaded(i, digest, content.sharedBytes(image, i, digest)));
                }
            } catch (Throwable t) {
                failure = t;
            }
            Throwable failed = batch.isEmpty() ? failure : null;
            context.runOnContext(v -> {
                if (failed != null) {
                    ProblemWriter.write(rc, failed);
                    return;
                }
                loaded.addAll(batch);
                pump();
            });
        });
    }
}

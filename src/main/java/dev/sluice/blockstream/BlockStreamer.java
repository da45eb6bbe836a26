package dev.sluice.blockstream;

import dev.sluice.blockstore.BlockDigest;
import dev.sluice.platform.problem.ProblemWriter;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;
import java.util.ArrayDeque;

/**
 * Streams a run of blocks to a response without blocking the event loop and without unbounded buffering.
 *
 * <p>Design notes: up to {@link #WINDOW} blocks are read ahead on worker threads; they are written strictly in
 * order; when the response's write queue is full the streamer waits for its drain handler (back-pressure from
 * a slow client stops the reads too, since the window only refills as blocks are written). All state is
 * confined to the request's event-loop context. A failure after the headers went out closes the connection,
 * which a client sees as a short body rather than silently wrong bytes.
 */
final class BlockStreamer {
    static final int WINDOW = 4;

    /** Encodes one block (its bytes may be a shared buffer longer than the block) as the bytes to send. */
    interface Encoder {
        Buffer encode(long index, BlockDigest digest, byte[] sharedBytes);
    }

    private record Loaded(BlockDigest digest, byte[] bytes) {
    }

    private final RoutingContext rc;
    private final Vertx vertx;
    private final Context context;
    private final ImageContent content;
    private final ServedImage image;
    private final long last;
    private final Encoder encoder;
    private final ArrayDeque<Future<Loaded>> window = new ArrayDeque<>();
    private long nextToFetch;
    private long nextToWrite;

    BlockStreamer(RoutingContext rc, Vertx vertx, ImageContent content, ServedImage image, long firstBlock, long lastBlock, Encoder encoder) {
        this.rc = rc;
        this.vertx = vertx;
        this.context = vertx.getOrCreateContext();
        this.content = content;
        this.image = image;
        this.last = lastBlock;
        this.encoder = encoder;
        this.nextToFetch = firstBlock;
        this.nextToWrite = firstBlock;
    }

    void start() {
        fill();
        writeNext();
    }

    private void fill() {
        while (window.size() < WINDOW && nextToFetch <= last) {
            long index = nextToFetch++;
            window.add(vertx.executeBlocking(() -> {
                BlockDigest digest = content.digest(image, index);
                return new Loaded(digest, content.sharedBytes(image, index, digest));
            }, false));
        }
    }

    private void writeNext() {
        HttpServerResponse response = rc.response();
        if (response.closed()) {
            return;
        }
        if (nextToWrite > last) {
            response.end();
            return;
        }
        Future<Loaded> head = window.peek();
        head.onComplete(ar -> context.runOnContext(v -> {
            window.poll();
            if (ar.failed()) {
                ProblemWriter.write(rc, ar.cause());
                return;
            }
            long index = nextToWrite++;
            response.write(encoder.encode(index, ar.result().digest(), ar.result().bytes()));
            fill();
            if (response.writeQueueFull()) {
                // One-shot: a drain handler left in place would start a second write chain on the next drain.
                response.drainHandler(d -> {
                    response.drainHandler(null);
                    writeNext();
                });
            } else {
                writeNext();
            }
        }));
    }
}

package dev.sluice.snapshot;

import dev.sluice.platform.api.ResourceId;
import dev.sluice.platform.problem.ApiException;
import dev.sluice.platform.problem.ProblemType;
import dev.sluice.platform.problem.ProblemWriter;
import dev.sluice.platform.security.RouteAuth;
import dev.sluice.platform.security.Role;
import dev.sluice.upload.UploadPipeline;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.vertx.web.Route;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.InputStream;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.enums.ParameterIn;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.Parameter;
import org.eclipse.microprofile.openapi.annotations.parameters.RequestBody;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirement;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * {@code POST /api/v1/machines/{id}/snapshot-uploads/{operationId}/blocks}: a batch of framed blocks
 * (docs/block-protocol.md), received the way image content is ({@code ContentUploadRoute}): the event loop only
 * queues the body's buffers (pausing the request while 8 MiB wait), a worker parses the frames from the queue and
 * {@link SnapshotUploadService#receive} verifies, stores and records them. A JAX-RS resource with an
 * {@code InputStream} body cost the event loop and the request thread several CPU-seconds per GiB more than this.
 *
 * <p>Same contract as before: machine credential of that machine, or a tenant-member; another machine's upload is a
 * 404; a bad frame is a 400 and nothing of the request is recorded; 200 {@code {"frames","newToUpload","bytes"}}
 * once the batch is durable and recorded. A batch may name the whole cut ({@code ?cutBlocks=N&cutDigest=hex}, what
 * {@code complete} takes): when it is the one that completes the cut, the server commits right after recording it
 * and the answer carries the acknowledgement as {@code committed}, which saves the agent the {@code complete} round
 * trip at the end of every snapshot. If the commit is not possible yet (other batches still on their way) or fails,
 * the batch is answered as usual (it is recorded either way) and {@code complete} says why. A refused request's body is read to its end (at most the batch limit)
 * so that the connection stays usable.
 */
@ApplicationScoped
@Tag(name = "snapshots")
public class SnapshotBlocksRoute {
    static final String PATH = "/api/v1/machines/:id/snapshot-uploads/:operationId/blocks";
    /** Batches received at once per replica (an agent sends up to 4); more are refused with 503, not queued. */
    static final int MAX_BATCHES = 64;

    @Inject
    RouteAuth auth;
    @Inject
    SnapshotUploadService uploads;
    @Inject
    Vertx vertx;

    private final ExecutorService receivers = new ThreadPoolExecutor(0, MAX_BATCHES, 60, TimeUnit.SECONDS, new SynchronousQueue<>(), r -> {
        Thread t = new Thread(r, "sluice-snapshot-recv-" + RECEIVERS.incrementAndGet());
        t.setDaemon(true);
        return t;
    });
    private static final AtomicInteger RECEIVERS = new AtomicInteger();
    private static final org.jboss.logging.Logger LOG = org.jboss.logging.Logger.getLogger(SnapshotBlocksRoute.class);

    /** The body streams to the worker: the global body handler must not buffer it first (as for image content). */
    void streamBatchBodies(@Observes io.vertx.ext.web.Router router) {
        router.route(io.vertx.core.http.HttpMethod.POST, PATH).order(Integer.MIN_VALUE)
                .handler(rc -> {
                    ((io.vertx.ext.web.impl.RoutingContextInternal) rc).visitHandler(io.vertx.ext.web.impl.RoutingContextInternal.BODY_HANDLER);
                    rc.next();
                });
    }

    @Route(path = PATH, methods = Route.HttpMethod.POST, type = Route.HandlerType.NORMAL)
    @Operation(operationId = "uploadSnapshotBlocks",
            summary = "Send a batch of framed blocks (index, flags, length, SHA-256, bytes); each is verified and stored")
    @Parameter(name = "id", in = ParameterIn.PATH, required = true, schema = @Schema(type = SchemaType.STRING))
    @Parameter(name = "operationId", in = ParameterIn.PATH, required = true, schema = @Schema(type = SchemaType.STRING))
    @Parameter(name = "Content-Length", in = ParameterIn.HEADER, schema = @Schema(type = SchemaType.INTEGER, format = "int64"))
    @Parameter(name = "cutBlocks", in = ParameterIn.QUERY, description = "With cutDigest: the cut, as for complete (it declares the cut if nothing did yet); the batch that completes it commits the snapshot",
            schema = @Schema(type = SchemaType.INTEGER, format = "int64", minimum = "0"))
    @Parameter(name = "cutDigest", in = ParameterIn.QUERY, description = "With cutBlocks: SHA-256 (hex) of the cut's block indices, as for complete",
            schema = @Schema(type = SchemaType.STRING, pattern = "^" + CompleteUploadRequest.CUT_DIGEST + "$"))
    @RequestBody(required = true, content = @Content(mediaType = "*/*", // frames, whatever the label: checked frame by frame
            schema = @Schema(type = SchemaType.STRING, format = "binary")))
    @APIResponse(responseCode = "200", description = "The batch is durable and recorded (and, with committed, the snapshot is committed)",
            content = @Content(mediaType = "application/json", schema = @Schema(implementation = ReceivedBlocks.class)))
    @SecurityRequirement(name = "SecurityScheme", scopes = {Role.Names.TENANT_MEMBER, Role.Names.MACHINE})
    void uploadSnapshotBlocks(RoutingContext rc) {
        HttpServerRequest request = rc.request();
        Context eventLoop = vertx.getOrCreateContext();
        UploadPipeline.Body body = UploadPipeline.Body.of(vertx, request);
        String rawMachine = rc.pathParam("id");
        String rawOperation = rc.pathParam("operationId");
        auth.require(rc, Role.Names.TENANT_MEMBER, Role.Names.MACHINE).subscribe().with(caller -> {
            String tenantId;
            String machineId;
            String operationId;
            Long length;
            CompleteUploadRequest cut;
            try {
                if (caller.tenantId() == null) {
                    throw new ApiException(ProblemType.FORBIDDEN, "this credential belongs to no tenant");
                }
                tenantId = caller.tenantId();
                machineId = ResourceId.MACHINE.require("id", rawMachine);
                boolean machineOnly = caller.has(Role.Names.MACHINE) && !caller.has(Role.Names.TENANT_VIEWER);
                if (machineOnly && !machineId.equals(caller.machineId())) {
                    throw ApiException.notFound("machine " + machineId);
                }
                operationId = ResourceId.OPERATION.require("operationId", rawOperation);
                length = UploadPipeline.contentLength(request.getHeader("Content-Length"));
                cut = cutOf(rc.queryParams().get("cutBlocks"), rc.queryParams().get("cutDigest"));
                if (length != null && length > SnapshotUploadService.MAX_BATCH_BYTES) {
                    throw new ApiException(ProblemType.PAYLOAD_TOO_LARGE, "a block batch is at most " + SnapshotUploadService.MAX_BATCH_BYTES + " bytes");
                }
            } catch (RuntimeException e) {
                refuse(rc, e);
                return;
            }
            try {
                receivers.execute(() -> receive(rc, eventLoop, body, tenantId, machineId, operationId, length, cut));
            } catch (RejectedExecutionException e) {
                refuse(rc, new ApiException(ProblemType.UNAVAILABLE, "too many block batches at once; retry later"));
                return;
            }
            request.resume();
        }, failure -> refuse(rc, failure));
    }

    /** The optional cut a batch names: both parameters or neither; null when neither. */
    static CompleteUploadRequest cutOf(String blocks, String digest) {
        if (blocks == null && digest == null) {
            return null;
        }
        if (blocks == null || digest == null) {
            throw ApiException.field(ProblemType.INVALID_PARAMETER, blocks == null ? "cutBlocks" : "cutDigest", "cutBlocks and cutDigest come together");
        }
        long n;
        try {
            n = Long.parseLong(blocks);
        } catch (NumberFormatException e) {
            throw ApiException.field(ProblemType.INVALID_PARAMETER, "cutBlocks", "not a number");
        }
        if (n < 0) {
            throw ApiException.field(ProblemType.INVALID_PARAMETER, "cutBlocks", "must be at least 0");
        }
        if (!digest.matches(CompleteUploadRequest.CUT_DIGEST)) {
            throw ApiException.field(ProblemType.INVALID_PARAMETER, "cutDigest", CompleteUploadRequest.CUT_DIGEST_RULE);
        }
        return new CompleteUploadRequest(n, digest);
    }

    /** Worker: the batch, then (if it names the cut and may have completed it) the commit, then the answer. */
    private void receive(RoutingContext rc, Context eventLoop, UploadPipeline.Body body, String tenantId, String machineId, String operationId,
                         Long length, CompleteUploadRequest cut) {
        QueueInput in = new QueueInput(body);
        try {
            SnapshotUploadService.Received received = uploads.receive(tenantId, machineId, operationId, in, length, cut == null ? null : cut.cutBlocks());
            ReceivedBlocks r = received.answer();
            JsonObject json = new JsonObject().put("frames", r.frames()).put("newToUpload", r.newToUpload()).put("bytes", r.bytes());
            if (cut != null && received.framesSoFar() >= cut.cutBlocks()) {
                SnapshotAck ack = commitIfComplete(tenantId, machineId, operationId, cut);
                if (ack != null) {
                    json.put("committed", new JsonObject().put("operationId", ack.operationId()).put("snapshotId", ack.snapshotId())
                            .put("imageId", ack.imageId()).put("cutBlocks", ack.cutBlocks()));
                }
            }
            eventLoop.runOnContext(v -> rc.response().setStatusCode(200).putHeader("Content-Type", "application/json").end(json.encode()));
        } catch (Throwable e) {
            boolean ended = in.drain(SnapshotUploadService.MAX_BATCH_BYTES + (1 << 20));
            eventLoop.runOnContext(v -> {
                if (!ended) {
                    rc.response().putHeader("Connection", "close");
                }
                ProblemWriter.write(rc, e);
            });
        } finally {
            body.release();
        }
    }

    /**
     * The commit a batch asked for, or null: the batch is recorded whatever happens here, so a refusal (another
     * batch of the cut still on its way: 409) or any failure leaves the answer without an acknowledgement, and the
     * agent's {@code complete} then commits or says why.
     */
    private SnapshotAck commitIfComplete(String tenantId, String machineId, String operationId, CompleteUploadRequest cut) {
        try {
            return uploads.complete(tenantId, machineId, operationId, cut);
        } catch (RuntimeException e) {
            LOG.debugf("batch of %s: no commit yet (%s)", operationId, e.getMessage());
            return null;
        }
    }

    /** Refuses before reading the body: the unread body makes the connection unusable, so it is closed. */
    private static void refuse(RoutingContext rc, Throwable failure) {
        rc.response().putHeader("Connection", "close");
        ProblemWriter.write(rc, failure);
    }

    void stop(@Observes ShutdownEvent event) {
        receivers.shutdownNow();
    }

    /** The queued body as a blocking stream (one worker reads it). A broken connection is an IOException. */
    static final class QueueInput extends InputStream {
        private final UploadPipeline.Body body;
        private Buffer chunk;
        private int pos;
        private boolean ended;

        QueueInput(UploadPipeline.Body body) {
            this.body = body;
        }

        /** False at the end of the body; else {@link #chunk} has unread bytes. */
        private boolean fill() throws IOException {
            while (!ended && (chunk == null || pos == chunk.length())) {
                Object item;
                try {
                    item = body.take();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted while reading the body", e);
                }
                if (item == null) {
                    throw new IOException("no body bytes for 10 minutes");
                }
                if (UploadPipeline.Body.isAbort(item)) {
                    throw new IOException("the connection broke");
                }
                if (UploadPipeline.Body.isEnd(item)) {
                    ended = true;
                    chunk = null;
                    return false;
                }
                chunk = (Buffer) item;
                pos = 0;
            }
            return !ended;
        }

        @Override
        public int read() throws IOException {
            if (!fill()) {
                return -1;
            }
            return chunk.getByte(pos++) & 0xff;
        }

        @Override
        public int read(byte[] dst, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            if (!fill()) {
                return -1;
            }
            int n = Math.min(len, chunk.length() - pos);
            chunk.getBytes(pos, pos + n, dst, off);
            pos += n;
            return n;
        }

        /** After a failure: reads and drops the rest, at most {@code limit} bytes; true if the body's end was reached. */
        boolean drain(long limit) {
            long dropped = 0;
            try {
                while (dropped <= limit && fill()) {
                    dropped += chunk.length() - pos;
                    pos = chunk.length();
                }
                return ended;
            } catch (IOException e) {
                return false;
            }
        }
    }
}

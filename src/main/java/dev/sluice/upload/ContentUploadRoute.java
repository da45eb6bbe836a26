package dev.sluice.upload;

import dev.sluice.blockstore.BlockStore;
import dev.sluice.platform.api.ResourceId;
import dev.sluice.platform.problem.ApiException;
import dev.sluice.platform.problem.ProblemType;
import dev.sluice.platform.problem.ProblemWriter;
import dev.sluice.platform.security.RouteAuth;
import dev.sluice.platform.security.Role;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.vertx.web.Route;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jboss.logging.Logger;

/**
 * {@code PUT /api/v1/images/{id}/content}: streams a raw disk image (whole, or a block-aligned part with
 * {@code Content-Range}) into the block store. The event loop never blocks: validation, hashing, storing and
 * recording run on worker threads, and the request is paused whenever the workers fall behind.
 *
 * <p>Responses: 200 with the upload status (and the image turns available when the last byte arrives);
 * 400 when the body is shorter or longer than declared, or does not match its {@code Content-Digest} (RFC 9530,
 * optional; the part's progress is rolled back, the image stays uploading); 409 when another upload to the image
 * is running or the part leaves a gap. A broken connection keeps the progress of every complete block.
 */
@ApplicationScoped
public class ContentUploadRoute {
    private static final Logger LOG = Logger.getLogger(ContentUploadRoute.class);
    /** Concurrent uploads per replica; more are refused with 503 rather than queued without bound. */
    static final int MAX_UPLOADS = 16;

    @Inject
    RouteAuth auth;
    @Inject
    ContentService content;
    @Inject
    BlockStore store;
    @Inject
    Vertx vertx;

    @Inject
    UploadActivity active;
    private final ExecutorService assemblers = new ThreadPoolExecutor(0, MAX_UPLOADS, 60, TimeUnit.SECONDS, new SynchronousQueue<>(), named("sluice-upload"));
    private final ExecutorService blockIo = Executors.newFixedThreadPool(UploadPipeline.MAX_IN_FLIGHT * 2, named("sluice-block-io"));

    /**
     * Some extensions make Quarkus buffer every request body in memory before routing (a global body handler).
     * Image uploads must stream, so for this one route the body handler is marked as already run; everything
     * else keeps its buffered (and size-limited, see ApiBodyLimit) bodies.
     */
    void streamUploadBodies(@Observes io.vertx.ext.web.Router router) {
        router.route(io.vertx.core.http.HttpMethod.PUT, "/api/v1/images/:id/content").order(Integer.MIN_VALUE)
                .handler(rc -> {
                    ((io.vertx.ext.web.impl.RoutingContextInternal) rc).visitHandler(io.vertx.ext.web.impl.RoutingContextInternal.BODY_HANDLER);
                    rc.next();
                });
    }

    @Route(path = "/api/v1/images/:id/content", methods = Route.HttpMethod.PUT, type = Route.HandlerType.NORMAL)
    void uploadImageContent(RoutingContext rc) {
        HttpServerRequest request = rc.request();
        Context eventLoop = vertx.getOrCreateContext();
        UploadPipeline.Body body = UploadPipeline.Body.of(vertx, request);
        String id = rc.pathParam("id");
        auth.require(rc, Role.Names.TENANT_MEMBER).subscribe().with(caller -> {
            try {
                ResourceId.IMAGE.require("id", id);
                ContentRange range = ContentRange.parse(request.getHeader("Content-Range"));
                Long length = UploadPipeline.contentLength(request.getHeader("Content-Length"));
                byte[] digest = contentDigest(request.getHeader("Content-Digest"));
                begin(rc, eventLoop, body, caller.tenantId(), id, range, length, digest);
            } catch (RuntimeException e) {
                refuse(rc, e);
            }
        }, failure -> refuse(rc, failure));
    }

    private void begin(RoutingContext rc, Context eventLoop, UploadPipeline.Body body, String tenantId, String imageId, ContentRange range,
                       Long length, byte[] digest) {
        vertx.<ContentService.Part>executeBlocking(() -> content.begin(tenantId, imageId, range, length), false).onComplete(ar -> {
            if (ar.failed()) {
                refuse(rc, ar.cause());
                return;
            }
            ContentService.Part part = ar.result();
            if (!active.begin(imageId)) {
                refuse(rc, new ApiException(ProblemType.CONFLICT, "another upload to this image is running"));
                return;
            }
            UploadPipeline pipeline = new UploadPipeline(content, store, blockIo, part, body, digest);
            try {
                assemblers.execute(() -> finish(rc, eventLoop, part, pipeline));
            } catch (java.util.concurrent.RejectedExecutionException e) {
                active.end(imageId);
                refuse(rc, new ApiException(ProblemType.UNAVAILABLE, "too many concurrent uploads; retry later"));
                return;
            }
            eventLoop.runOnContext(v -> rc.request().resume());
        });
    }

    /** Worker: drives the pipeline, commits a complete image, answers. */
    private void finish(RoutingContext rc, Context eventLoop, ContentService.Part part, UploadPipeline pipeline) {
        try {
            UploadPipeline.Outcome outcome = pipeline.run();
            switch (outcome) {
                case TOO_SHORT -> respondProblem(rc, eventLoop, ApiException.field(ProblemType.MALFORMED_REQUEST, "body",
                        "the body ended before " + part.expectedBytes() + " bytes; nothing of this request was kept"), false);
                case TOO_LONG -> respondProblem(rc, eventLoop, ApiException.field(ProblemType.MALFORMED_REQUEST, "body",
                        "the body is longer than " + part.expectedBytes() + " bytes (the image's sizeBytes); nothing of this request was kept"), true);
                case DIGEST_MISMATCH -> respondProblem(rc, eventLoop, ApiException.field(ProblemType.MALFORMED_REQUEST, "Content-Digest",
                        "the body does not match its Content-Digest; nothing of this request was kept"), false);
                case ABORTED -> LOG.debugf("upload to %s broke off; progress kept for resumption", part.imageId());
                case COMPLETE -> {
                    if (part.endBlock() == part.blockCount()) {
                        content.commit(part.tenantId(), part.imageId());
                    }
                    ContentService.ContentStatus status = content.status(part.tenantId(), part.imageId());
                    JsonObject body = new JsonObject().put("imageId", status.imageId()).put("state", status.state().wire())
                            .put("sizeBytes", status.sizeBytes()).put("blockSize", status.blockSize()).put("receivedBytes", status.receivedBytes());
                    eventLoop.runOnContext(v -> rc.response().setStatusCode(200).putHeader("Content-Type", "application/json")
                            .putHeader("Upload-Offset", Long.toString(status.receivedBytes())).end(body.encode()));
                }
            }
        } catch (Exception e) {
            respondProblem(rc, eventLoop, e, true);
        } finally {
            active.end(part.imageId());
        }
    }

    private static void respondProblem(RoutingContext rc, Context eventLoop, Throwable problem, boolean close) {
        eventLoop.runOnContext(v -> {
            if (close) {
                rc.response().putHeader("Connection", "close");
            }
            ProblemWriter.write(rc, problem);
        });
    }

    /** Refuses before reading the body: the unread body makes the connection unusable, so it is closed. */
    private static void refuse(RoutingContext rc, Throwable failure) {
        rc.response().putHeader("Connection", "close");
        ProblemWriter.write(rc, failure);
    }

    /** RFC 9530 {@code Content-Digest: sha-256=:<base64>:}; other algorithms alone are refused (we verify what we accept). */
    static byte[] contentDigest(String header) {
        if (header == null) {
            return null;
        }
        for (String member : header.split(",")) {
            String m = member.trim();
            if (m.regionMatches(true, 0, "sha-256=:", 0, 9) && m.endsWith(":") && m.length() > 10) {
                try {
                    byte[] d = java.util.Base64.getDecoder().decode(m.substring(9, m.length() - 1));
                    if (d.length == 32) {
                        return d;
                    }
                } catch (IllegalArgumentException e) {
                    break;
                }
            }
        }
        throw ApiException.field(ProblemType.INVALID_PARAMETER, "Content-Digest", "expected sha-256=:<base64 of 32 bytes>:");
    }

    void stop(@Observes ShutdownEvent event) {
        assemblers.shutdownNow();
        blockIo.shutdownNow();
    }

    private static java.util.concurrent.ThreadFactory named(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}

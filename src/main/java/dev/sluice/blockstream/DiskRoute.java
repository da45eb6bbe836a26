package dev.sluice.blockstream;

import dev.sluice.boot.BootTraces;
import dev.sluice.platform.problem.ApiException;
import dev.sluice.platform.problem.ProblemType;
import dev.sluice.platform.problem.ProblemWriter;
import io.netty.buffer.Unpooled;
import io.quarkus.vertx.web.Route;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;

/**
 * {@code GET|HEAD /api/v1/images/{id}/disk}: the image as a raw disk, with RFC 9110 byte ranges, for curl,
 * qemu's HTTP block driver and iPXE {@code sanboot}. Zero blocks are synthesized. Clients that cannot send an
 * Authorization header use a signed URL ({@code ?exp=…&sig=…}, see {@link SignedUrls}).
 */
@ApplicationScoped
public class DiskRoute {
    // Pre-encoded header names and values: this route answers tens of thousands of small range reads a second.
    private static final CharSequence ACCEPT_RANGES = io.vertx.core.http.HttpHeaders.createOptimized("Accept-Ranges");
    private static final CharSequence BYTES = io.vertx.core.http.HttpHeaders.createOptimized("bytes");
    private static final CharSequence ETAG = io.vertx.core.http.HttpHeaders.createOptimized("ETag");
    private static final CharSequence CACHE_CONTROL = io.vertx.core.http.HttpHeaders.createOptimized("Cache-Control");
    private static final CharSequence PRIVATE = io.vertx.core.http.HttpHeaders.createOptimized("private, max-age=0");
    private static final CharSequence CONTENT_TYPE = io.vertx.core.http.HttpHeaders.createOptimized("Content-Type");
    private static final CharSequence OCTET_STREAM = io.vertx.core.http.HttpHeaders.createOptimized("application/octet-stream");
    private static final CharSequence CONTENT_LENGTH = io.vertx.core.http.HttpHeaders.createOptimized("Content-Length");
    private static final String IMAGES_PREFIX = "/api/v1/images/";
    private static final String DISK_SUFFIX = "/disk";
    /** Where Quarkus' HTTP metrics look for a request's route template (io.quarkus.micrometer HttpRequestMetric). */
    private static final String METRICS_TEMPLATE = "UrlPathTemplate";
    private static final String DISK_TEMPLATE = "/api/v1/images/{id}/disk";

    @Inject
    ImageAccess access;
    @Inject
    ImageContent content;
    @Inject
    Vertx vertx;
    @Inject
    BlockReadPool readPool;
    @Inject
    ImageWarmer warmer;
    @Inject
    BootTraces traces;

    /**
     * Signed-URL reads (iPXE, qemu, benchmarks) skip the framework's route chain: they need no session, request
     * context or lazy authentication, only the signature check, which is pure computation. The route has no path
     * pattern because matching one is a regular expression per request; {@link #signedImageId} checks the exact
     * path instead. Anything else (no signature, another path, a path that needs normalizing) falls through to
     * the router, and unsigned disk reads reach {@link #readImageDisk} and its bearer authentication.
     */
    void signedReads(@Observes Router router) {
        router.route().order(Integer.MIN_VALUE).handler(rc -> {
            String id = signedImageId(rc.request());
            if (id == null) {
                rc.next();
                return;
            }
            // The HTTP metrics name requests by route template; this route has none, so name it here.
            Vertx.currentContext().putLocal(METRICS_TEMPLATE, DISK_TEMPLATE);
            // The signature covers the boot binding, so once resolveSigned() accepted it the boot id is trusted.
            access.resolveSigned(rc, id, image -> serve(rc, image, rc.request().getParam("boot")));
        });
    }

    /** The image id of a signed GET or HEAD of {@code /api/v1/images/<id>/disk} (id not yet validated), else null. */
    static String signedImageId(HttpServerRequest request) {
        HttpMethod method = request.method();
        String path = request.path();
        if ((method != HttpMethod.GET && method != HttpMethod.HEAD) || path == null
                || !path.startsWith(IMAGES_PREFIX) || !path.endsWith(DISK_SUFFIX)
                || path.length() <= IMAGES_PREFIX.length() + DISK_SUFFIX.length()) {
            return null;
        }
        String id = path.substring(IMAGES_PREFIX.length(), path.length() - DISK_SUFFIX.length());
        for (int i = 0; i < id.length(); i++) {
            char c = id.charAt(i);
            if (!(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_')) {
                return null; // not an id (a slash, a dot segment, percent-encoding): the router decides
            }
        }
        return request.getParam("sig") == null ? null : id;
    }

    @Route(path = "/api/v1/images/:id/disk", methods = {Route.HttpMethod.GET, Route.HttpMethod.HEAD}, type = Route.HandlerType.NORMAL)
    void readImageDisk(RoutingContext rc) {
        access.resolve(rc, true, image -> serve(rc, image, rc.request().getParam("sig") == null ? null : rc.request().getParam("boot")));
    }

    /** bootId: the remote boot this signed read belongs to (its blocks go to the boot's read trace), or null. */
    private void serve(RoutingContext rc, ServedImage image, String bootId) {
        HttpServerResponse response = rc.response();
        long size = image.sizeBytes();
        response.putHeader(ACCEPT_RANGES, BYTES).putHeader(ETAG, image.etag()).putHeader(CACHE_CONTROL, PRIVATE);
        String rangeHeader = rc.request().getHeader("Range");
        String ifRange = rc.request().getHeader("If-Range");
        if (ifRange != null && !ifRange.trim().equals(image.etag())) {
            rangeHeader = null;
        }
        ByteRange.Decision decision = ByteRange.decide(rangeHeader, size);
        long first;
        long last;
        if (decision instanceof ByteRange.Unsatisfiable) {
            response.putHeader("Content-Range", "bytes */" + size);
            ProblemWriter.write(rc, new ApiException(ProblemType.RANGE_NOT_SATISFIABLE, "the disk has " + size + " bytes"));
            return;
        } else if (decision instanceof ByteRange.Partial partial) {
            first = partial.range().first();
            last = partial.range().lastInclusive();
            response.setStatusCode(206).putHeader("Content-Range", "bytes " + first + "-" + last + "/" + size);
        } else {
            first = 0;
            last = size - 1;
            response.setStatusCode(200);
        }
        response.putHeader(CONTENT_TYPE, OCTET_STREAM).putHeader(CONTENT_LENGTH, Long.toString(last - first + 1));
        if (rc.request().method() == HttpMethod.HEAD || size == 0) {
            response.end();
            return;
        }
        int blockSize = image.blockSize();
        if (bootId != null) {
            traces.record(bootId, first / blockSize, last / blockSize);
        }
        long from = first;
        long toExclusive = last + 1;
        new BlockStreamer(rc, vertx, readPool, content, image, first / blockSize, last / blockSize, (index, digest, block) -> {
            long blockStart = index * blockSize;
            int off = (int) (Math.max(from, blockStart) - blockStart);
            int end = (int) (Math.min(toExclusive, blockStart + block.remaining()) - blockStart);
            return Unpooled.wrappedBuffer(block.position(off).limit(end));
        }).onMiss(() -> warmer.missed(image)).start();
    }
}

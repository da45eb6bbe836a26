package dev.sluice.platform.api;

import dev.sluice.platform.problem.ProblemType;
import dev.sluice.platform.problem.ProblemWriter;
import io.quarkus.vertx.web.RouteFilter;
import io.vertx.ext.web.RoutingContext;
import java.util.regex.Pattern;

/**
 * The HTTP server's own body limit is lifted so that disk images can stream in; this filter puts a 1 MiB limit
 * back on everything else (JSON bodies are read into memory). Snapshot block batches check their own
 * limit (SnapshotUploadService.MAX_BATCH_BYTES). Requests without a Content-Length (chunked) are
 * refused on JSON endpoints for the same reason: their size is unknown until read.
 */
public class ApiBodyLimit {
    static final long MAX_JSON_BODY = 1 << 20;
    private static final Pattern UNLIMITED = Pattern.compile("/api/v1/images/[^/]+/content|/api/v1/machines/[^/]+/snapshot-uploads/[^/]+/blocks");

    @RouteFilter(100)
    void limit(RoutingContext rc) {
        String method = rc.request().method().name();
        if (method.equals("GET") || method.equals("HEAD") || method.equals("DELETE") || UNLIMITED.matcher(rc.normalizedPath()).matches()) {
            rc.next();
            return;
        }
        String length = rc.request().getHeader("Content-Length");
        String chunked = rc.request().getHeader("Transfer-Encoding");
        long declared;
        try {
            declared = length == null ? -1 : Long.parseLong(length.trim());
        } catch (NumberFormatException e) {
            declared = Long.MAX_VALUE;
        }
        if (declared > MAX_JSON_BODY || (declared < 0 && chunked != null)) {
            rc.response().putHeader("Connection", "close");
            ProblemWriter.write(rc, ProblemType.PAYLOAD_TOO_LARGE, "request bodies are limited to " + MAX_JSON_BODY + " bytes and need a Content-Length");
            return;
        }
        rc.next();
    }
}

package dev.sluice.platform.problem;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;
import java.util.List;
import java.util.UUID;
import org.jboss.logging.Logger;

/**
 * Writes problem+json from plain Vert.x routes (the block data plane), with the same types and shapes as
 * {@link ProblemMappers} gives the REST resources.
 */
public final class ProblemWriter {
    private static final Logger LOG = Logger.getLogger(ProblemWriter.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private ProblemWriter() {
    }

    public static void write(RoutingContext rc, Throwable failure) {
        HttpServerResponse response = rc.response();
        if (response.headWritten() || response.ended() || response.closed()) {
            // Mid-stream: the status is gone, so the only honest signal left is to cut the connection.
            if (!(failure instanceof ApiException)) {
                LOG.warnf(failure, "failure after the response started on %s", rc.request().path());
            }
            rc.request().connection().close();
            return;
        }
        ApiException api = failure instanceof ApiException a ? a : unwrap(failure);
        if (api == null) {
            String incident = UUID.randomUUID().toString();
            LOG.errorf(failure, "unhandled error on %s, incident %s", rc.request().path(), incident);
            api = new ApiException(ProblemType.INTERNAL, "internal error; incident " + incident);
        }
        ProblemType type = api.type();
        Problem problem = new Problem(type.uri(), type.title(), type.status(), api.getMessage(), rc.request().path(), api.errors());
        try {
            byte[] body = JSON.writeValueAsBytes(problem);
            // Headers prepared for the success path (a range's length, its digest) must not describe the problem.
            response.headers().remove("Content-Length").remove("Repr-Digest").remove("ETag").remove("Accept-Ranges");
            if (type != ProblemType.RANGE_NOT_SATISFIABLE) {
                response.headers().remove("Content-Range");
            }
            response.setChunked(false);
            response.setStatusCode(type.status()).putHeader("Content-Type", Problem.MEDIA_TYPE);
            if (type == ProblemType.UNAUTHENTICATED) {
                response.putHeader("WWW-Authenticate", "Bearer realm=\"sluice\"");
            }
            if (rc.request().method() == io.vertx.core.http.HttpMethod.HEAD) {
                response.putHeader("Content-Length", Integer.toString(body.length)).end();
            } else {
                response.end(io.vertx.core.buffer.Buffer.buffer(body));
            }
        } catch (JsonProcessingException e) {
            response.setStatusCode(500).end();
        }
    }

    public static void write(RoutingContext rc, ProblemType type, String detail) {
        write(rc, new ApiException(type, detail, List.of()));
    }

    private static ApiException unwrap(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof ApiException a) {
                return a;
            }
            if (c instanceof io.quarkus.security.AuthenticationFailedException || c instanceof io.quarkus.security.UnauthorizedException) {
                return new ApiException(ProblemType.UNAUTHENTICATED, "a valid bearer token is required");
            }
            if (c instanceof io.quarkus.security.ForbiddenException) {
                return new ApiException(ProblemType.FORBIDDEN, "the credential's role does not allow this operation");
            }
            if (c instanceof dev.sluice.blockstore.CorruptBlockException corrupt) {
                return new ApiException(ProblemType.INTEGRITY, "a stored block failed its integrity check and was not served (digest " + corrupt.digest().hex() + ")");
            }
            if (c == c.getCause()) {
                break;
            }
        }
        return null;
    }
}

package dev.sluice.platform.problem;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.exc.InputCoercionException;
import com.fasterxml.jackson.core.exc.StreamReadException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import io.quarkus.security.AuthenticationFailedException;
import io.quarkus.security.ForbiddenException;
import io.quarkus.security.UnauthorizedException;
import jakarta.persistence.OptimisticLockException;
import jakarta.validation.ConstraintViolation;
import jakarta.validation.ConstraintViolationException;
import jakarta.validation.ElementKind;
import jakarta.validation.Path;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import org.hibernate.StaleStateException;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

/**
 * The one table from exceptions to RFC 9457 problems. Every 4xx/5xx the API produces passes through here, so
 * clients always get {@code application/problem+json} with a stable {@code type}. Nothing from an exception
 * message of a third-party library reaches the client unless it is known to be safe (Jackson field paths).
 */
public class ProblemMappers {
    private static final Logger LOG = Logger.getLogger(ProblemMappers.class);

    @ServerExceptionMapper
    public Response apiException(ApiException e, UriInfo uri) {
        return render(e.type(), e.getMessage(), e.errors(), uri);
    }

    @ServerExceptionMapper
    public Response unrecognizedField(UnrecognizedPropertyException e, UriInfo uri) {
        String field = fieldPath(e);
        return render(ProblemType.MALFORMED_REQUEST, "unknown field '" + field + "'",
                List.of(new Problem.FieldError(field, "unknown field")), uri);
    }

    @ServerExceptionMapper
    public Response wrongType(InvalidFormatException e, UriInfo uri) {
        String field = fieldPath(e);
        String expected = jsonType(e.getTargetType());
        return render(ProblemType.MALFORMED_REQUEST, field + ": expected " + expected,
                List.of(new Problem.FieldError(field, "expected " + expected)), uri);
    }

    @ServerExceptionMapper
    public Response mismatchedInput(MismatchedInputException e, UriInfo uri) {
        String field = fieldPath(e);
        if (field.isEmpty()) {
            return render(ProblemType.MALFORMED_REQUEST, "the body is not a JSON object of the expected shape", List.of(), uri);
        }
        String expected = jsonType(e.getTargetType());
        return render(ProblemType.MALFORMED_REQUEST, field + ": expected " + expected,
                List.of(new Problem.FieldError(field, "expected " + expected)), uri);
    }

    @ServerExceptionMapper
    public Response jsonMapping(JsonMappingException e, UriInfo uri) {
        String field = fieldPath(e);
        List<Problem.FieldError> errors = field.isEmpty() ? List.of() : List.of(new Problem.FieldError(field, "invalid value"));
        return render(ProblemType.MALFORMED_REQUEST, field.isEmpty() ? "invalid JSON body" : field + ": invalid value", errors, uri);
    }

    @ServerExceptionMapper
    public Response malformedJson(JsonProcessingException e, UriInfo uri) {
        String field = e instanceof StreamReadException read && read.getProcessor() != null
                ? read.getProcessor().getParsingContext().getCurrentName() : null;
        if (e instanceof InputCoercionException && field != null) {
            return render(ProblemType.MALFORMED_REQUEST, field + ": number out of range",
                    List.of(new Problem.FieldError(field, "number out of range")), uri);
        }
        String where = e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr();
        return render(ProblemType.MALFORMED_REQUEST, "malformed JSON" + where, List.of(), uri);
    }

    @ServerExceptionMapper
    public Response violations(ConstraintViolationException e, UriInfo uri) {
        List<Problem.FieldError> errors = new ArrayList<>();
        for (ConstraintViolation<?> v : e.getConstraintViolations()) {
            errors.add(new Problem.FieldError(fieldOf(v.getPropertyPath()), v.getMessage()));
        }
        errors.sort(Comparator.comparing(Problem.FieldError::field));
        String detail = errors.stream().map(f -> f.field() + ": " + f.message()).reduce((a, b) -> a + "; " + b).orElse("invalid");
        return render(ProblemType.VALIDATION, detail, errors, uri);
    }

    @ServerExceptionMapper
    public Response authenticationFailed(AuthenticationFailedException e, UriInfo uri) {
        return unauthenticated(uri);
    }

    @ServerExceptionMapper
    public Response unauthorized(UnauthorizedException e, UriInfo uri) {
        return unauthenticated(uri);
    }

    @ServerExceptionMapper
    public Response forbidden(ForbiddenException e, UriInfo uri) {
        return render(ProblemType.FORBIDDEN, "the credential's role does not allow this operation", List.of(), uri);
    }

    @ServerExceptionMapper({OptimisticLockException.class, StaleStateException.class})
    public Response concurrentModification(Exception e, UriInfo uri) {
        return render(ProblemType.CONCURRENT_MODIFICATION, "the resource was modified concurrently; re-read and retry", List.of(), uri);
    }

    @ServerExceptionMapper
    public Response constraint(org.hibernate.exception.ConstraintViolationException e, UriInfo uri) {
        String constraint = e.getConstraintName() == null ? "" : e.getConstraintName().toLowerCase();
        if (constraint.startsWith("uq_") || e.getKind() == org.hibernate.exception.ConstraintViolationException.ConstraintKind.UNIQUE) {
            String field = constraint.endsWith("_mac") ? "mac" : "name";
            return render(ProblemType.ALREADY_EXISTS, field + " is already taken in this tenant",
                    List.of(new Problem.FieldError(field, "already taken")), uri);
        }
        return render(ProblemType.CONFLICT, "the operation conflicts with related resources", List.of(), uri);
    }

    @ServerExceptionMapper
    public Response webApplication(WebApplicationException e, UriInfo uri) {
        // The JSON reader wraps Jackson's exceptions; unwrap them so the problem names the field.
        if (e.getCause() instanceof UnrecognizedPropertyException c) {
            return unrecognizedField(c, uri);
        }
        if (e.getCause() instanceof InvalidFormatException c) {
            return wrongType(c, uri);
        }
        if (e.getCause() instanceof MismatchedInputException c) {
            return mismatchedInput(c, uri);
        }
        if (e.getCause() instanceof JsonMappingException c) {
            return jsonMapping(c, uri);
        }
        if (e.getCause() instanceof JsonProcessingException c) {
            return malformedJson(c, uri);
        }
        int status = e.getResponse().getStatus();
        ProblemType type = switch (status) {
            case 400 -> ProblemType.MALFORMED_REQUEST;
            case 401 -> ProblemType.UNAUTHENTICATED;
            case 403 -> ProblemType.FORBIDDEN;
            case 404 -> ProblemType.NOT_FOUND;
            case 405 -> ProblemType.METHOD_NOT_ALLOWED;
            case 406 -> ProblemType.NOT_ACCEPTABLE;
            case 413 -> ProblemType.PAYLOAD_TOO_LARGE;
            case 415 -> ProblemType.UNSUPPORTED_MEDIA_TYPE;
            case 416 -> ProblemType.RANGE_NOT_SATISFIABLE;
            case 503 -> ProblemType.UNAVAILABLE;
            default -> status >= 500 ? ProblemType.INTERNAL : ProblemType.MALFORMED_REQUEST;
        };
        if (type == ProblemType.UNAUTHENTICATED) {
            return unauthenticated(uri);
        }
        if (status >= 500) {
            return internal(e, uri);
        }
        Response.ResponseBuilder b = builder(type, type.title(), List.of(), uri).status(status);
        if (status == 405 && e.getResponse().getHeaderString(HttpHeaders.ALLOW) != null) {
            b.header(HttpHeaders.ALLOW, e.getResponse().getHeaderString(HttpHeaders.ALLOW));
        }
        return b.build();
    }

    @ServerExceptionMapper
    public Response unexpected(Throwable e, UriInfo uri) {
        if (clientWentAway(e)) {
            // The client closed the connection mid-request (e.g. an agent stopping): nobody reads this answer,
            // and it is not a server fault worth an incident.
            LOG.debugf("client closed the connection during %s", uri == null ? "a request" : uri.getPath());
            return render(ProblemType.MALFORMED_REQUEST, "the connection closed before the request was complete", List.of(), uri);
        }
        Throwable cause = e;
        while (cause.getCause() != null && cause.getCause() != cause) {
            cause = cause.getCause();
            if (cause instanceof ApiException api) {
                return apiException(api, uri);
            }
        }
        return internal(e, uri);
    }

    /**
     * The request's connection closed under it: Vert.x's closed-connection exceptions, or the request body's stream
     * (RESTEasy's {@code VertxInputStream}) finding its channel closed, as when an agent that is being stopped had a
     * JSON request on its way. Only that stream's {@link java.nio.channels.ClosedChannelException} counts: one from
     * a file channel of ours (or a subclass: an interrupted file channel) is a server fault and keeps its incident.
     */
    static boolean clientWentAway(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof io.vertx.core.http.HttpClosedException || t instanceof io.vertx.core.VertxException && "Connection was closed".equals(t.getMessage())) {
                return true;
            }
            if (t.getClass() == java.nio.channels.ClosedChannelException.class && t.getStackTrace().length > 0
                    && t.getStackTrace()[0].getClassName().startsWith(REQUEST_BODY_STREAM)) {
                return true;
            }
            if (t == t.getCause()) {
                break;
            }
        }
        return false;
    }

    private static final String REQUEST_BODY_STREAM = "org.jboss.resteasy.reactive.server.vertx.VertxInputStream";

    private Response internal(Throwable e, UriInfo uri) {
        String incident = UUID.randomUUID().toString();
        LOG.errorf(e, "unhandled error, incident %s", incident);
        return render(ProblemType.INTERNAL, "internal error; incident " + incident, List.of(), uri);
    }

    private Response unauthenticated(UriInfo uri) {
        return builder(ProblemType.UNAUTHENTICATED, "a valid bearer token is required", List.of(), uri)
                .header(HttpHeaders.WWW_AUTHENTICATE, "Bearer realm=\"sluice\"")
                .build();
    }

    public static Response render(ProblemType type, String detail, List<Problem.FieldError> errors, UriInfo uri) {
        return builder(type, detail, errors, uri).build();
    }

    private static Response.ResponseBuilder builder(ProblemType type, String detail, List<Problem.FieldError> errors, UriInfo uri) {
        String instance = uri == null ? null : "/" + uri.getPath().replaceFirst("^/", "");
        return Response.status(type.status())
                .type(Problem.MEDIA_TYPE)
                .entity(new Problem(type.uri(), type.title(), type.status(), detail, instance, errors));
    }

    private static String jsonType(Class<?> type) {
        if (type == null) {
            return "another type";
        }
        if (Number.class.isAssignableFrom(type) || type == int.class || type == long.class) {
            return type == Double.class || type == Float.class ? "number" : "integer";
        }
        if (type == String.class || type.isEnum()) {
            return "string";
        }
        if (type == Boolean.class || type == boolean.class) {
            return "boolean";
        }
        if (java.util.Map.class.isAssignableFrom(type) || type.isRecord()) {
            return "object";
        }
        if (java.util.Collection.class.isAssignableFrom(type) || type.isArray()) {
            return "array";
        }
        if (type == java.time.Instant.class) {
            return "RFC 3339 timestamp";
        }
        return "another type";
    }

    /** "labels.env", "sizeBytes": the JSON path Jackson was at, without array noise for top-level fields. */
    private static String fieldPath(JsonMappingException e) {
        StringBuilder sb = new StringBuilder();
        for (JsonMappingException.Reference ref : e.getPath()) {
            if (ref.getFieldName() != null) {
                if (sb.length() > 0) {
                    sb.append('.');
                }
                sb.append(ref.getFieldName());
            } else if (ref.getIndex() >= 0) {
                sb.append('[').append(ref.getIndex()).append(']');
            }
        }
        return sb.toString();
    }

    /** Drops the method and parameter nodes Hibernate Validator puts in front of a body field's path. */
    private static String fieldOf(Path path) {
        StringBuilder sb = new StringBuilder();
        String parameter = null;
        for (Path.Node node : path) {
            if (node.getKind() == ElementKind.METHOD) {
                continue;
            }
            if (node.getKind() == ElementKind.PARAMETER) {
                parameter = node.getName();
                continue;
            }
            if (node.getName() == null) {
                continue;
            }
            if (sb.length() > 0) {
                sb.append('.');
            }
            sb.append(node.getName());
            if (node.getKey() != null) {
                sb.append('.').append(node.getKey());
            }
        }
        if (sb.length() == 0) {
            return parameter == null ? "body" : parameter;
        }
        return sb.toString();
    }
}

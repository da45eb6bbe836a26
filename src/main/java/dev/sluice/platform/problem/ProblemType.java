package dev.sluice.platform.problem;

/**
 * The stable catalogue of error kinds. Clients switch on {@link #uri()}, never on titles or details, so a
 * type's slug never changes once released; add new types instead.
 */
public enum ProblemType {
    MALFORMED_REQUEST("malformed-request", 400, "The request is malformed"),
    INVALID_PARAMETER("invalid-parameter", 400, "A path, query or header parameter is invalid"),
    VALIDATION("validation", 422, "The request body failed validation"),
    UNAUTHENTICATED("unauthenticated", 401, "Missing, invalid, expired or revoked credentials"),
    FORBIDDEN("forbidden", 403, "The credential's role does not allow this operation"),
    NOT_FOUND("not-found", 404, "No such resource"),
    METHOD_NOT_ALLOWED("method-not-allowed", 405, "Method not allowed on this resource"),
    NOT_ACCEPTABLE("not-acceptable", 406, "No acceptable representation"),
    ALREADY_EXISTS("already-exists", 409, "A resource with this unique value already exists"),
    CONFLICT("conflict", 409, "The resource's state does not allow this operation"),
    CONCURRENT_MODIFICATION("concurrent-modification", 409, "The resource was modified concurrently"),
    IDEMPOTENCY_IN_PROGRESS("idempotency-in-progress", 409, "A request with this Idempotency-Key is still running"),
    IDEMPOTENCY_KEY_REUSED("idempotency-key-reused", 422, "This Idempotency-Key was used with a different request"),
    PRECONDITION_FAILED("precondition-failed", 412, "If-Match does not match the current ETag"),
    PAYLOAD_TOO_LARGE("payload-too-large", 413, "The request body is too large"),
    UNSUPPORTED_MEDIA_TYPE("unsupported-media-type", 415, "Unsupported content type"),
    RANGE_NOT_SATISFIABLE("range-not-satisfiable", 416, "The requested range is not satisfiable"),
    INTEGRITY("integrity", 500, "Stored data failed its integrity check"),
    UNAVAILABLE("unavailable", 503, "The service is temporarily unavailable"),
    INTERNAL("internal", 500, "Internal error");

    public static final String BASE = "https://sluice.dev/problems/";

    private final String slug;
    private final int status;
    private final String title;

    ProblemType(String slug, int status, String title) {
        this.slug = slug;
        this.status = status;
        this.title = title;
    }

    public String uri() {
        return BASE + slug;
    }

    public int status() {
        return status;
    }

    public String title() {
        return title;
    }
}

package dev.sluice.platform.problem;

import java.util.List;

/**
 * A domain failure that maps to exactly one {@link ProblemType}. Services throw it; the one mapping table in
 * {@link ProblemMappers} renders it. The detail text is shown to the caller: never put secrets in it.
 */
public class ApiException extends RuntimeException {
    private final ProblemType type;
    private final List<Problem.FieldError> errors;

    public ApiException(ProblemType type, String detail) {
        this(type, detail, List.of());
    }

    public ApiException(ProblemType type, String detail, List<Problem.FieldError> errors) {
        super(detail, null, false, false);
        this.type = type;
        this.errors = List.copyOf(errors);
    }

    public static ApiException field(ProblemType type, String field, String message) {
        return new ApiException(type, field + ": " + message, List.of(new Problem.FieldError(field, message)));
    }

    public static ApiException notFound(String what) {
        return new ApiException(ProblemType.NOT_FOUND, what + " not found");
    }

    public ProblemType type() {
        return type;
    }

    public List<Problem.FieldError> errors() {
        return errors;
    }
}

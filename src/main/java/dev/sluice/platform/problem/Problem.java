package dev.sluice.platform.problem;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/** RFC 9457 problem details, with {@code errors} naming each offending field. */
@JsonInclude(JsonInclude.Include.NON_EMPTY)
public record Problem(String type, String title, int status, String detail, String instance, List<FieldError> errors) {

    public static final String MEDIA_TYPE = "application/problem+json";

    /** One offending input: {@code field} is a JSON pointer-ish path ("labels.env"), a query or header name. */
    public record FieldError(String field, String message) {
    }
}

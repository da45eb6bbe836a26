package dev.sluice.operation;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonRawValue;
import java.time.Instant;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

/** {@code {id, done, error?, result?}} plus kind, target and progress; error/result/progress are JSON objects. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record OperationView(String id, String kind, String targetId, boolean done,
                            @JsonRawValue @Schema(type = org.eclipse.microprofile.openapi.annotations.enums.SchemaType.OBJECT) String error,
                            @JsonRawValue @Schema(type = org.eclipse.microprofile.openapi.annotations.enums.SchemaType.OBJECT) String result,
                            @JsonRawValue @Schema(type = org.eclipse.microprofile.openapi.annotations.enums.SchemaType.OBJECT) String progress,
                            Instant createdAt, Instant updatedAt) {
    public static OperationView of(Operation o) {
        return new OperationView(o.id, o.kind, o.targetId, o.done, o.error, o.result, o.progress, o.createdAt, o.updatedAt);
    }
}

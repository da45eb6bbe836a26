package dev.sluice.command;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonRawValue;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

/** A command as the agent receives it; payload is a JSON object (for kind snapshot: {name, target?}). */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record CommandView(String id, String kind, String operationId,
                          @JsonRawValue @Schema(type = SchemaType.OBJECT) String payload) {
    static CommandView of(MachineCommand c) {
        return new CommandView(c.id, c.kind, c.operationId, c.payload);
    }
}

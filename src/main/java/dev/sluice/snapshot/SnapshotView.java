package dev.sluice.snapshot;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.time.Instant;

@JsonInclude(JsonInclude.Include.NON_NULL)
public record SnapshotView(String id, String name, String machineId, String imageId, String operationId, String target,
                           SnapshotState state, Instant createdAt, Instant updatedAt) {
    static SnapshotView of(Snapshot s) {
        return new SnapshotView(s.id, s.name, s.machineId, s.imageId, s.operationId, s.target, s.state, s.createdAt, s.updatedAt);
    }
}

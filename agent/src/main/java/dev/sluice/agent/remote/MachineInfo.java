package dev.sluice.agent.remote;

import dev.sluice.agent.engine.Geometry;

import java.util.Map;

/** What the agent needs from {@code GET /api/v1/machines/{id}}: the assigned image and its geometry. */
public record MachineInfo(String machineId, String imageId, Geometry geometry) {

    /** Parses the machine document; throws IllegalArgumentException when a needed field is missing. */
    public static MachineInfo parse(String machineId, String json) {
        if (!(Json.parse(json) instanceof Map<?, ?> doc)) throw new IllegalArgumentException("machine document is not an object");
        Object imageId = doc.get("imageId");
        if (!(imageId instanceof String id) || id.isEmpty()) throw new IllegalArgumentException("machine has no imageId (no image assigned?)");
        if (!(doc.get("image") instanceof Map<?, ?> image)) throw new IllegalArgumentException("machine document has no image object");
        if (!(image.get("sizeBytes") instanceof Long size)) throw new IllegalArgumentException("image.sizeBytes missing");
        if (!(image.get("blockSize") instanceof Long blockSize)) throw new IllegalArgumentException("image.blockSize missing");
        if (blockSize > Integer.MAX_VALUE) throw new IllegalArgumentException("image.blockSize too large");
        return new MachineInfo(machineId, id, new Geometry(size, blockSize.intValue()));
    }
}

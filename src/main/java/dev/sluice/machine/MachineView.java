package dev.sluice.machine;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.sluice.image.Image;
import java.time.Instant;
import java.util.Map;

/**
 * A machine with a summary of its image (the agent reads its disk geometry from here) and, once its agent
 * reports, hydration progress.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record MachineView(String id, String name, String mac, String imageId, ImageSummary image, Map<String, String> labels,
                          MachineState state, Hydration hydration, Instant createdAt, Instant updatedAt) {

    public record ImageSummary(String id, long sizeBytes, int blockSize, String state) {
    }

    /** state: streaming (blocks still absent) | hydrated (every block present, prefetch stopped). */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Hydration(String state, Long presentBlocks, Long totalBlocks, Long dirtyBlocks, Long bytesFetched,
                            Long fetchRateBytesPerSecond, Long etaSeconds, Instant updatedAt) {
    }

    public static MachineView of(Machine m, Image image) {
        ImageSummary summary = image == null ? null : new ImageSummary(image.id, image.sizeBytes, image.blockSize, image.state.wire());
        Hydration hydration = null;
        if (m.hydrationState != null) {
            Long eta = null;
            if (m.fetchRateBytesPerSecond != null && m.fetchRateBytesPerSecond > 0 && m.totalBlocks != null && m.presentBlocks != null && image != null) {
                eta = (m.totalBlocks - m.presentBlocks) * image.blockSize / m.fetchRateBytesPerSecond;
            }
            hydration = new Hydration(m.hydrationState, m.presentBlocks, m.totalBlocks, m.dirtyBlocks, m.bytesFetched,
                    m.fetchRateBytesPerSecond, eta, m.hydrationUpdatedAt);
        }
        return new MachineView(m.id, m.name, m.mac, m.imageId, summary, m.labels, m.state, hydration, m.createdAt, m.updatedAt);
    }
}

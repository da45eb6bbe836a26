package dev.sluice.boot;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.time.Instant;

/**
 * A boot as the API shows it. remoteBlocks: blocks first read through the boot's signed disk URL (remote phase);
 * agentBlocks: first-touch reads the agent reported after the hand-off.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record BootView(String id, String machineId, String imageId, BootPhase phase, int remoteBlocks, int agentBlocks,
                       Instant startedAt, Instant handedOffAt) {
    static BootView of(Boot b) {
        return new BootView(b.id, b.machineId, b.imageId, b.phase, b.remoteBlocks, b.agentBlocks, b.startedAt, b.handedOffAt);
    }
}

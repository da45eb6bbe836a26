package dev.sluice.snapshot;

/** The acknowledgement of a committed snapshot: the agent may now clear the cut's dirty bits for its target. */
public record SnapshotAck(String operationId, String snapshotId, String imageId, long cutBlocks) {
}

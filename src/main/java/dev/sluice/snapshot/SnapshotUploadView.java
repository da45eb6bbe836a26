package dev.sluice.snapshot;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/**
 * An upload as its agent sees it: which blocks the server holds durably (a resumed upload skips them), and once
 * committed the snapshot it became.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record SnapshotUploadView(String operationId, String name, String target, Long cutBlocks, long blocksReceived,
                                 long bytesReceived, List<Long> receivedBlocks, String snapshotId) {
}

package dev.sluice.snapshot;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * What one block batch added: frames in the request, frames recorded (= frames: a block sent again is resolved at the
 * commit) and its body bytes; {@code committed} is the acknowledgement when the request named the cut
 * ({@code cutBlocks}, {@code cutDigest}) and this batch completed it, so the server committed the snapshot at once.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ReceivedBlocks(long frames, long newToUpload, long bytes, SnapshotAck committed) {
}

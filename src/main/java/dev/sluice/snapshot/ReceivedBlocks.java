package dev.sluice.snapshot;

/** What one block batch added: frames in the request, frames recorded (= frames: a block sent again is resolved at the commit) and its body bytes. */
public record ReceivedBlocks(long frames, long newToUpload, long bytes) {
}

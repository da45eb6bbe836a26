package dev.sluice.snapshot;

/** What one block batch added: frames in the request, of which blocks new to this upload, and its body bytes. */
public record ReceivedBlocks(long frames, long newToUpload, long bytes) {
}

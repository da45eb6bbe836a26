package dev.sluice.blockstore;

import java.time.Instant;
import java.util.Objects;

/**
 * A block as listed by {@link BlockStore#blocks}: its digest, its stored size in bytes and when it was first stored
 * (file modification time, S3 {@code LastModified}). The size is what the backend reports; it is not verified.
 */
public record StoredBlock(BlockDigest digest, long sizeBytes, Instant storedAt) {
    public StoredBlock {
        Objects.requireNonNull(digest, "digest");
        Objects.requireNonNull(storedAt, "storedAt");
    }
}

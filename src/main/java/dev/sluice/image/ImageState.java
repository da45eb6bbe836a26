package dev.sluice.image;

import com.fasterxml.jackson.annotation.JsonValue;

/**
 * Image life cycle:
 * <pre>
 *   create ──► UPLOADING ──(content committed)──► AVAILABLE ──(DELETE)──► DELETING ──(blocks released)──► gone
 *                  └──────────────────(DELETE)──────────────────────────────┘
 * </pre>
 * Today DELETE removes the row at once and garbage collection releases the blocks afterwards, so DELETING is
 * not observed yet; it is reserved for deletions that must wait (e.g. while snapshots are being taken).
 * Content (blocks, disk reads) exists only in AVAILABLE, which is immutable. Machines may be created for an
 * UPLOADING image: they wait for its content. An image that machines use cannot be deleted.
 */
public enum ImageState {
    UPLOADING, AVAILABLE, DELETING;

    @JsonValue
    public String wire() {
        return name().toLowerCase();
    }
}

package dev.sluice.image;

import com.fasterxml.jackson.annotation.JsonValue;

/**
 * Image life cycle:
 * <pre>
 *   create ──► UPLOADING ──(content committed)──► AVAILABLE ──(DELETE)──► DELETING ──(blocks released)──► gone
 *                  └──────────────────(DELETE)──────────────────────────────┘
 * </pre>
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

package dev.sluice.snapshot;

import com.fasterxml.jackson.annotation.JsonValue;

/** PENDING (requested, uploading modified blocks) → READY (manifest committed) | FAILED. */
public enum SnapshotState {
    PENDING, READY, FAILED;

    @JsonValue
    public String wire() {
        return name().toLowerCase();
    }
}

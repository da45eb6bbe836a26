package dev.sluice.boot;

import com.fasterxml.jackson.annotation.JsonValue;

/** REMOTE: the firmware (iPXE sanboot) reads the disk endpoint. AGENT: the machine's agent serves the disk. */
public enum BootPhase {
    REMOTE, AGENT;

    @JsonValue
    public String wire() {
        return name().toLowerCase();
    }
}

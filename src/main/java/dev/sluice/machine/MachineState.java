package dev.sluice.machine;

import com.fasterxml.jackson.annotation.JsonValue;

/**
 * Machine life cycle: REGISTERED (known, not booted) → BOOTING (remote boot phase, reads served by the disk
 * endpoint) → RUNNING (its agent serves the disk). The boot and agent issues drive the transitions.
 */
public enum MachineState {
    REGISTERED, BOOTING, RUNNING;

    @JsonValue
    public String wire() {
        return name().toLowerCase();
    }
}

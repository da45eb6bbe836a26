package dev.sluice.agent.engine;

import java.io.IOException;

/** A needed block could not be obtained from the repository in time; the NBD edge answers EIO. */
public class FetchFailedException extends IOException {
    public FetchFailedException(String message, Throwable cause) {
        super(message, cause);
    }
}

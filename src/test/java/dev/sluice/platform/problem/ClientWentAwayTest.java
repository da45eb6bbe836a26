package dev.sluice.platform.problem;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.ClosedChannelException;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A client that closed its connection mid-request is not a server fault; a closed file channel of ours is. */
class ClientWentAwayTest {

    private static <T extends Throwable> T thrownBy(T t, String className) {
        t.setStackTrace(new StackTraceElement[] {new StackTraceElement(className, "read", "X.java", 1)});
        return t;
    }

    @Test
    void theRequestBodyStreamFindingItsChannelClosedIsTheClientGoingAway() {
        // as logged by bench/boot.sh when an agent was stopped with a JSON request on its way
        ClosedChannelException closed = thrownBy(new ClosedChannelException(),
                "org.jboss.resteasy.reactive.server.vertx.VertxInputStream$VertxBlockingInput");
        assertTrue(ProblemMappers.clientWentAway(new IOException(closed)));
        assertTrue(ProblemMappers.clientWentAway(new io.vertx.core.http.HttpClosedException("closed")));
    }

    @Test
    void aClosedChannelAnywhereElseIsAServerFault() {
        assertFalse(ProblemMappers.clientWentAway(new IOException(thrownBy(new ClosedChannelException(), "sun.nio.ch.FileChannelImpl"))));
        assertFalse(ProblemMappers.clientWentAway(new IOException(thrownBy(new ClosedByInterruptException(),
                "org.jboss.resteasy.reactive.server.vertx.VertxInputStream"))));
        assertFalse(ProblemMappers.clientWentAway(new IOException("disk full")));
    }
}

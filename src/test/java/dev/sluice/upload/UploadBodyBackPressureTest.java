package dev.sluice.upload;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.vertx.core.buffer.Buffer;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.RepeatedTest;

/**
 * The upload body queue between the event loop and the pipeline: a producer that honours pause/resume like a paused
 * HTTP request (it offers nothing while paused) and a consumer that drains as fast as it can must always finish.
 * A lost resume (the request left paused while the queue is empty) shows up as a consumer stuck in take(); the
 * timeout here only detects that hang, it measures nothing. Small chunks make the producer cross the pause and
 * resume thresholds many times per run. This guards the contract (no lost resume, no deadlock between the two
 * sides); it does not reproduce the stall fixed in Body (a preemption inside offer between counting and setting the
 * flag): that window is too narrow to hit from here, and the test passed on the old code too.
 */
class UploadBodyBackPressureTest {

    private static final int CHUNK = 4096;
    private static final long CHUNKS = 3 * (UploadPipeline.MAX_QUEUED_BYTES / CHUNK) * 40; // crosses the limit ~40 times

    @RepeatedTest(3)
    void aProducerThatHonoursPauseAlwaysFinishes() {
        assertTimeoutPreemptively(Duration.ofMinutes(3), () -> {
            AtomicBoolean requestPaused = new AtomicBoolean();
            Object monitor = new Object();
            UploadPipeline.Body body = new UploadPipeline.Body(
                    () -> requestPaused.set(true),
                    () -> {
                        requestPaused.set(false);
                        synchronized (monitor) {
                            monitor.notifyAll();
                        }
                    });
            Buffer chunk = Buffer.buffer(new byte[CHUNK]);
            Thread eventLoop = new Thread(() -> {
                for (long i = 0; i < CHUNKS; i++) {
                    synchronized (monitor) {
                        while (requestPaused.get()) {
                            try {
                                monitor.wait();
                            } catch (InterruptedException e) {
                                return;
                            }
                        }
                    }
                    body.offer(chunk);
                }
                body.end();
            }, "fake-event-loop");
            eventLoop.start();
            long taken = 0;
            for (Object item = body.take(); item instanceof Buffer; item = body.take()) {
                taken++;
            }
            eventLoop.join();
            assertEquals(CHUNKS, taken);
            assertFalse(requestPaused.get(), "the request is left paused after the body ended");
        });
    }
}

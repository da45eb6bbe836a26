package dev.sluice.agent.main;

import dev.sluice.agent.engine.TouchTrace;
import dev.sluice.agent.remote.BootClient;

import java.io.IOException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Teaches the control plane the image's boot order: for the first {@code window} after the hand-off, the
 * guest's first touches (reads, whether they missed or hit a block read-ahead or prefetch had brought, and partial
 * writes; see {@link TouchTrace}) are sent every interval (on one daemon thread, never on the guest's I/O path);
 * then the trace is closed and sent a last time. The blocks of a failed send are dropped (logged at debug): the
 * profile is an optimization, and resending could reorder them after newer touches.
 */
final class BootLearning {
    private final BootClient client;
    private final String bootId;
    private final TouchTrace trace;
    private final Consumer<String> log;
    private final Consumer<String> debug;
    private final ScheduledExecutorService thread = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "boot-learning");
        t.setDaemon(true);
        return t;
    });
    private long sent; // confined to the thread

    BootLearning(BootClient client, String bootId, TouchTrace trace, Consumer<String> log, Consumer<String> debug) {
        this.client = client;
        this.bootId = bootId;
        this.trace = trace;
        this.log = log;
        this.debug = debug;
    }

    void start(long intervalMillis, long windowMillis) {
        thread.scheduleWithFixedDelay(this::send, intervalMillis, intervalMillis, TimeUnit.MILLISECONDS);
        thread.schedule(this::finish, windowMillis, TimeUnit.MILLISECONDS);
    }

    /** Closes the trace and sends what is left; waits at most a few seconds (shutdown). */
    void stop() {
        try {
            thread.submit(this::finish).get(15, TimeUnit.SECONDS);
        } catch (java.util.concurrent.RejectedExecutionException | java.util.concurrent.ExecutionException
                 | java.util.concurrent.TimeoutException e) {
            // already finished, or the control plane is slow: the profile does without the rest
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        thread.shutdownNow();
    }

    private void finish() {
        if (thread.isShutdown()) return;
        trace.close();
        send();
        log.accept("agent: boot " + bootId + ": " + sent + " first-touch reads sent to the control plane (learned boot order)");
        thread.shutdown();
    }

    private void send() {
        long[] blocks = trace.drain();
        if (blocks.length == 0) return;
        try {
            client.reportMisses(bootId, blocks);
            sent += blocks.length;
        } catch (IOException | RuntimeException e) {
            debug.accept("boot misses not sent (" + blocks.length + " blocks dropped): " + e.getMessage());
        }
    }
}

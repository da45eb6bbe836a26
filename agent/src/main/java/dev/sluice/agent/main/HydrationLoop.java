package dev.sluice.agent.main;

import dev.sluice.agent.remote.HydrationReporter;

import java.io.IOException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Sends hydration progress every interval, and at once on {@link #reportNow()} (prefetch completed). Reports
 * run on one daemon thread, so they never delay flushes or guest I/O; a failed report is logged at debug and
 * simply superseded by the next one: never fatal, never retried in a tight loop. The fetch rate is the byte
 * delta between two reports over the time between them.
 */
final class HydrationLoop {
    private final HydrationReporter reporter;
    private final Supplier<Progress> progress;
    private final Consumer<String> debug;
    private final ScheduledExecutorService thread = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "hydration-report");
        t.setDaemon(true);
        return t;
    });
    private final AtomicLong sent = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    // Confined to the report thread.
    private long lastNanos = System.nanoTime();
    private long lastBytes;

    HydrationLoop(HydrationReporter reporter, Supplier<Progress> progress, Consumer<String> debug) {
        this.reporter = reporter;
        this.progress = progress;
        this.debug = debug;
    }

    void start(long intervalMillis) {
        thread.scheduleWithFixedDelay(this::reportOnce, 0, intervalMillis, TimeUnit.MILLISECONDS);
    }

    void reportNow() {
        try {
            thread.execute(this::reportOnce);
        } catch (java.util.concurrent.RejectedExecutionException stopped) {
            // shutting down
        }
    }

    void stop() {
        thread.shutdownNow();
    }

    String prometheus(Progress p) {
        return p.prometheus(sent.get(), failed.get());
    }

    private void reportOnce() {
        Progress p = progress.get();
        long now = System.nanoTime();
        long rate = now > lastNanos ? (long) ((p.bytesFetched() - lastBytes) * 1e9 / (now - lastNanos)) : 0;
        try {
            reporter.send(p.report(Math.max(0, rate)));
            sent.incrementAndGet();
            lastNanos = now;
            lastBytes = p.bytesFetched();
        } catch (IOException | RuntimeException e) {
            failed.incrementAndGet();
            debug.accept("hydration report failed (retried at the next interval): " + e.getMessage());
        }
    }
}

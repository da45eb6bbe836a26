package dev.sluice.boot;

import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * Read traces of boots in their remote phase. The disk route calls {@link #record} on the event loop for every
 * read under a boot-bound signed URL: that only updates memory (first touches per boot, at most
 * {@code sluice.boot.trace-cap} blocks, at most {@link #MAX_TRACKED} boots at once). One writer thread appends
 * the new first touches to boot_reads every {@link #WRITE_INTERVAL_MS} ms, so the event loop never waits for
 * the database. A boot that is no longer remote (handed off, deleted) stops being tracked at its next write.
 */
@ApplicationScoped
public class BootTraces {
    static final int MAX_TRACKED = 10_000;
    static final long WRITE_INTERVAL_MS = 500;
    /** A trace nobody read for this long is dropped from memory (its rows stay). */
    static final long IDLE_NANOS = TimeUnit.HOURS.toNanos(1);
    private static final Logger LOG = Logger.getLogger(BootTraces.class);

    @ConfigProperty(name = "sluice.boot.trace-cap", defaultValue = "16384")
    int cap;
    @Inject
    BootReads reads;

    private final Map<String, Trace> traces = new ConcurrentHashMap<>();
    private final AtomicLong untracked = new AtomicLong();
    private ScheduledExecutorService writer;

    /** First touches of one boot; the monitor guards the fields, {@link #writeLock} orders drains with writes. */
    private static final class Trace {
        final Object writeLock = new Object();
        final Set<Long> seen = new HashSet<>();
        List<Long> pending = new ArrayList<>();
        volatile long lastNanos = System.nanoTime();

        synchronized void add(long first, long last, int cap) {
            for (long b = first; b <= last && seen.size() < cap; b++) {
                if (seen.add(b)) {
                    pending.add(b);
                }
            }
            lastNanos = System.nanoTime();
        }

        synchronized List<Long> drain() {
            List<Long> out = pending;
            pending = new ArrayList<>();
            return out;
        }
    }

    void start(@Observes StartupEvent event) {
        writer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "boot-trace-writer");
            t.setDaemon(true);
            return t;
        });
        writer.scheduleWithFixedDelay(this::writeAll, WRITE_INTERVAL_MS, WRITE_INTERVAL_MS, TimeUnit.MILLISECONDS);
    }

    void stop(@Observes ShutdownEvent event) {
        writer.shutdown();
        writeAll();
    }

    /** Notes a read of blocks first..last by remote boot {@code bootId}. Memory only; safe on the event loop. */
    public void record(String bootId, long first, long last) {
        Trace t = traces.get(bootId);
        if (t == null) {
            if (traces.size() >= MAX_TRACKED) {
                untracked.incrementAndGet();
                return;
            }
            t = traces.computeIfAbsent(bootId, id -> new Trace());
        }
        t.add(first, last, cap);
    }

    /** Writes what is pending for {@code bootId} now (blocking: worker threads only). */
    public void write(String bootId) {
        Trace t = traces.get(bootId);
        if (t != null) {
            write(bootId, t);
        }
    }

    /** Stops tracking {@code bootId} (its remote phase ended); reads still in memory are written first. */
    public void forget(String bootId) {
        write(bootId);
        traces.remove(bootId);
    }

    private void writeAll() {
        for (Map.Entry<String, Trace> e : traces.entrySet()) {
            try {
                write(e.getKey(), e.getValue());
                if (System.nanoTime() - e.getValue().lastNanos > IDLE_NANOS) {
                    traces.remove(e.getKey(), e.getValue());
                }
            } catch (RuntimeException ex) {
                LOG.warnf("could not write the read trace of boot %s: %s", e.getKey(), ex.toString());
            }
        }
        long lost = untracked.getAndSet(0);
        if (lost > 0) {
            LOG.warnf("%d reads of remote boots were not traced: %d boots are already tracked", lost, MAX_TRACKED);
        }
    }

    private void write(String bootId, Trace t) {
        synchronized (t.writeLock) {
            List<Long> blocks = t.drain();
            if (blocks.isEmpty()) {
                return;
            }
            boolean stillRemote = QuarkusTransaction.requiringNew().call(() -> {
                Boot boot = reads.lock(bootId);
                if (boot == null || boot.phase != BootPhase.REMOTE) {
                    return false;
                }
                reads.append(boot, blocks, BootReads.REMOTE);
                return true;
            });
            if (!stillRemote) {
                traces.remove(bootId, t);
            }
        }
    }
}

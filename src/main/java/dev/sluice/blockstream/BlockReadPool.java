package dev.sluice.blockstream;

import io.quarkus.runtime.ShutdownEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Worker threads for block reads that may block (store and manifest misses). Separate from the general worker
 * pool so that a burst of cold reads cannot starve REST endpoints, and sized for I/O concurrency.
 */
@ApplicationScoped
public class BlockReadPool implements Executor {
    private final ExecutorService pool;

    public BlockReadPool() {
        AtomicInteger n = new AtomicInteger();
        this.pool = Executors.newFixedThreadPool(32, r -> {
            Thread t = new Thread(r, "sluice-block-read-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    @Override
    public void execute(Runnable task) {
        pool.execute(task);
    }

    void stop(@Observes ShutdownEvent event) {
        pool.shutdownNow();
    }
}

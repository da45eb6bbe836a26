package dev.sluice.agent.main;

import dev.sluice.agent.engine.BlockMap;
import dev.sluice.agent.engine.MeteredBlockSource;

import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * Logs once when every block of the handed-over priority list (the boot set the control plane knows of) is
 * present: how long after the hand-off, and how many requests and guest waits it took. One daemon thread that
 * polls the block map every 50 ms (at most 16384 lookups) and ends with that line, or after ten minutes.
 */
final class BootSetWatch {
    private static final long POLL_MILLIS = 50;
    private static final long GIVE_UP_NANOS = 600_000_000_000L;

    private BootSetWatch() {
    }

    static void start(long[] priority, BlockMap map, MeteredBlockSource source, LongSupplier demandMisses, Consumer<String> log) {
        if (priority.length == 0) return;
        long start = System.nanoTime();
        long requestsBefore = source.requests();
        Thread t = new Thread(() -> {
            int next = 0;
            while (System.nanoTime() - start < GIVE_UP_NANOS) {
                while (next < priority.length && map.isPresent(priority[next])) next++;
                if (next == priority.length) {
                    log.accept(String.format("agent: boot set present: %d priority blocks after %d ms, %d requests, %d guest waits",
                            priority.length, (System.nanoTime() - start) / 1_000_000, source.requests() - requestsBefore,
                            demandMisses.getAsLong()));
                    return;
                }
                try {
                    Thread.sleep(POLL_MILLIS);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "boot-set-watch");
        t.setDaemon(true);
        t.start();
    }
}

package dev.sluice.agent.engine;

/** Time as the engine sees it, so tests can run the prefetcher's throttle without real sleeping. */
public interface Clock {

    long nanoTime();

    /** Sleeps about {@code nanos}; returns early (with the interrupt flag set) when interrupted. */
    void sleepNanos(long nanos);

    Clock SYSTEM = new Clock() {
        @Override
        public long nanoTime() {
            return System.nanoTime();
        }

        @Override
        public void sleepNanos(long nanos) {
            if (nanos <= 0) return;
            try {
                Thread.sleep(nanos / 1_000_000, (int) (nanos % 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    };
}

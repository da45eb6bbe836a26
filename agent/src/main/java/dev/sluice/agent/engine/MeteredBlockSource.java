package dev.sluice.agent.engine;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A {@link BlockSource} decorator that counts the verified blocks (and their bytes) the repository delivered,
 * for hydration reports and metrics. Demand fetches, read-ahead and prefetch all pass through it. A block
 * counts once per delivery: one fetched again after a failed install counts twice, as it crossed the wire twice.
 * Thread-safe; the counters are monotonic.
 */
public final class MeteredBlockSource implements BlockSource {
    private final BlockSource delegate;
    private final AtomicLong blocks = new AtomicLong();
    private final AtomicLong bytes = new AtomicLong();
    private final AtomicLong requests = new AtomicLong();

    public MeteredBlockSource(BlockSource delegate) {
        this.delegate = delegate;
    }

    @Override
    public void fetch(long start, int count, long deadlineNanos, Sink sink) throws IOException {
        requests.incrementAndGet();
        delegate.fetch(start, count, deadlineNanos, (index, data) -> {
            blocks.incrementAndGet();
            bytes.addAndGet(data.remaining());
            sink.accept(index, data);
        });
    }

    /** Fetches (wire requests for a run of blocks, round trips) started since start, demand and prefetch. */
    public long requests() {
        return requests.get();
    }

    /** Blocks delivered since start. */
    public long blocksFetched() {
        return blocks.get();
    }

    /** Bytes of the blocks delivered since start (a zero block counts its length, though none of it was sent). */
    public long bytesFetched() {
        return bytes.get();
    }
}

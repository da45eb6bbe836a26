package dev.sluice.agent.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/** Test double for BlockSource: serves an in-memory image; can fail partway through runs. */
final class MemoryBlockSource implements BlockSource {

    final byte[] image;
    final Geometry geometry;
    final AtomicInteger fetchCalls = new AtomicInteger();
    final AtomicLong blocksServed = new AtomicLong();
    volatile double failureRate;
    volatile long delayMillis;
    private final Random random;

    MemoryBlockSource(byte[] image, Geometry geometry, long seed) {
        this.image = image;
        this.geometry = geometry;
        this.random = new Random(seed);
    }

    @Override
    public void fetch(long start, int count, long deadlineNanos, Sink sink) throws IOException {
        fetchCalls.incrementAndGet();
        if (delayMillis > 0) {
            try {
                Thread.sleep(delayMillis);
            } catch (InterruptedException e) {
                throw new IOException(e);
            }
        }
        for (long b = start; b < start + count; b++) {
            boolean fail;
            synchronized (random) {
                fail = failureRate > 0 && random.nextDouble() < failureRate;
            }
            if (fail) throw new IOException("simulated repository failure at block " + b);
            int len = geometry.blockLength(b);
            blocksServed.incrementAndGet();
            sink.accept(b, ByteBuffer.wrap(image, (int) geometry.blockOffset(b), len).slice());
        }
    }
}

package dev.sluice.blockstore;

import java.util.concurrent.atomic.AtomicLong;
import org.jboss.logging.Logger;

/**
 * Where a {@link BlockStore} reports the corrupt blocks it detects: each one is logged at ERROR and counted.
 * The count is for metrics (a gauge can read {@link #count()}); one instance is shared by the store and whoever
 * exports it. Thread-safe.
 */
public final class CorruptBlockLog {
    private static final Logger LOG = Logger.getLogger(CorruptBlockLog.class);

    private final AtomicLong count = new AtomicLong();

    /** Records one corrupt block; {@code detail} says what was wrong (never the block's bytes). */
    public void record(String backend, String tenantId, BlockDigest digest, String detail) {
        long n = count.incrementAndGet();
        LOG.errorf("corrupt block detected: backend=%s tenant=%s digest=%s (%s); quarantining it; %d corrupt block(s) "
                + "detected since start", backend, tenantId, digest.hex(), detail, n);
    }

    /** Corrupt blocks detected since this instance was created. */
    public long count() {
        return count.get();
    }
}

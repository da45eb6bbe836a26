package dev.sluice.blockstore;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

/** Exposes the block store's integrity counter at /q/metrics ({@code sluice_blocks_corrupt_total}). */
@ApplicationScoped
public class BlockStoreMetrics {
    void register(@Observes StartupEvent event, MeterRegistry registry, CorruptBlockLog corrupt) {
        FunctionCounter.builder("sluice.blocks.corrupt", corrupt, CorruptBlockLog::count)
                .description("Stored blocks that failed their digest check on read (never served)")
                .register(registry);
    }
}

package dev.sluice.agent.main;

import dev.sluice.agent.engine.BlockEngine;
import dev.sluice.agent.engine.BlockMap;
import dev.sluice.agent.engine.MeteredBlockSource;
import dev.sluice.agent.remote.HydrationReporter;

/**
 * One reading of the agent's progress, shared by the hydration report, the metrics endpoint and agent.status.
 * The counters are read one after the other without a lock, so they may be a few blocks apart; every one of
 * them is monotonic except dirty (a snapshot acknowledgement clears bits).
 */
record Progress(long presentBlocks, long totalBlocks, long dirtyBlocks, long blocksFetched, long bytesFetched,
                long fetchRequests, long demandMisses, String prefetch) {

    static Progress of(BlockEngine engine, MeteredBlockSource source, String prefetch) {
        BlockMap map = engine.map();
        return new Progress(map.presentCount(), map.blockCount(), map.dirtyCount(BlockMap.REPOSITORY),
                source.blocksFetched(), source.bytesFetched(), source.requests(), engine.demandMisses(), prefetch);
    }

    /** hydrated once every block is present (prefetch then stops for good), streaming before. */
    String hydrationState() {
        return presentBlocks == totalBlocks ? "hydrated" : "streaming";
    }

    HydrationReporter.Report report(long fetchRateBytesPerSecond) {
        return new HydrationReporter.Report(presentBlocks, totalBlocks, dirtyBlocks, bytesFetched, fetchRateBytesPerSecond,
                hydrationState());
    }

    /** Prometheus text exposition format 0.0.4. */
    String prometheus(long reportsSent, long reportsFailed) {
        StringBuilder b = new StringBuilder();
        gauge(b, "sluice_agent_blocks", "Blocks of the disk", totalBlocks);
        gauge(b, "sluice_agent_present_blocks", "Blocks held locally (present)", presentBlocks);
        gauge(b, "sluice_agent_dirty_blocks", "Blocks written since the last acknowledged snapshot (repository target)", dirtyBlocks);
        gauge(b, "sluice_agent_hydrated", "1 once every block is present", presentBlocks == totalBlocks ? 1 : 0);
        counter(b, "sluice_agent_fetched_blocks_total", "Verified blocks received from the control plane", blocksFetched);
        counter(b, "sluice_agent_fetched_bytes_total", "Bytes of the verified blocks received from the control plane", bytesFetched);
        counter(b, "sluice_agent_fetch_requests_total", "Requests (round trips) for runs of blocks, demand and prefetch", fetchRequests);
        counter(b, "sluice_agent_demand_misses_total", "Guest reads and partial writes that waited for blocks from the control plane", demandMisses);
        counter(b, "sluice_agent_hydration_reports_total", "Hydration reports the control plane accepted", reportsSent);
        counter(b, "sluice_agent_hydration_report_failures_total", "Hydration reports that failed (retried at the next interval)", reportsFailed);
        b.append("# HELP sluice_agent_prefetch_state Prefetch state (1 for the current one)\n# TYPE sluice_agent_prefetch_state gauge\n");
        b.append("sluice_agent_prefetch_state{state=\"").append(prefetch).append("\"} 1\n");
        return b.toString();
    }

    private static void gauge(StringBuilder b, String name, String help, long value) {
        b.append("# HELP ").append(name).append(' ').append(help).append("\n# TYPE ").append(name).append(" gauge\n")
                .append(name).append(' ').append(value).append('\n');
    }

    private static void counter(StringBuilder b, String name, String help, long value) {
        b.append("# HELP ").append(name).append(' ').append(help).append("\n# TYPE ").append(name).append(" counter\n")
                .append(name).append(' ').append(value).append('\n');
    }
}

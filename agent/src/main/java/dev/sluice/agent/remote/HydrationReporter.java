package dev.sluice.agent.remote;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * Sends the machine's hydration progress to the control plane: {@code PUT /api/v1/machines/{id}/hydration}
 * with the machine credential. One attempt per call; the caller decides when to try again (a failed report
 * is never fatal: the next one carries newer numbers anyway). Thread-safe.
 */
public final class HydrationReporter {

    /** One report. state: streaming (blocks still absent) or hydrated (every block present). */
    public record Report(long presentBlocks, long totalBlocks, long dirtyBlocks, long bytesFetched,
                         long fetchRateBytesPerSecond, String state) {
        String toJson() {
            return "{\"presentBlocks\":" + presentBlocks + ",\"totalBlocks\":" + totalBlocks + ",\"dirtyBlocks\":" + dirtyBlocks
                    + ",\"bytesFetched\":" + bytesFetched + ",\"fetchRateBytesPerSecond\":" + fetchRateBytesPerSecond
                    + ",\"state\":\"" + state + "\"}";
        }
    }

    /** An answer is a few hundred bytes; more than this is not one. */
    static final int MAX_ANSWER = 1 << 20;

    private final BlockRunClient client;
    private final String path;
    private final String token;
    private final int timeoutMillis;

    public HydrationReporter(URI base, String machineId, String token, Duration timeout) {
        this.timeoutMillis = BlockRunClient.millis(timeout);
        this.client = new BlockRunClient(base, timeoutMillis);
        this.path = BlockRunClient.path(base, "/api/v1/machines/" + BlockRunClient.segment(machineId) + "/hydration");
        this.token = token;
    }

    /** Sends {@code report}; throws with the HTTP status (never the token) when the control plane refuses it. */
    public void send(Report report) throws IOException {
        byte[] body = report.toJson().getBytes(StandardCharsets.UTF_8);
        BlockRunClient.Text resp = client.call("PUT", path, token, "application/json", "application/json", body, body.length,
                timeoutMillis, MAX_ANSWER);
        if (resp.status() != 200) throw new IOException("PUT " + path + ": HTTP " + resp.status() + " " + resp.excerpt());
    }
}

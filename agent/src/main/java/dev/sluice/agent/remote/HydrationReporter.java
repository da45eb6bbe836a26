package dev.sluice.agent.remote;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
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

    private final HttpClient http;
    private final URI uri;
    private final String token;
    private final Duration timeout;

    public HydrationReporter(HttpClient http, URI base, String machineId, String token, Duration timeout) {
        this.http = http;
        this.uri = HttpBlockSource.resolve(base, "/api/v1/machines/" + URLEncoder.encode(machineId, StandardCharsets.UTF_8) + "/hydration");
        this.token = token;
        this.timeout = timeout;
    }

    /** Sends {@code report}; throws with the HTTP status (never the token) when the control plane refuses it. */
    public void send(Report report) throws IOException {
        HttpRequest req = HttpRequest.newBuilder(uri).timeout(timeout)
                .header("Authorization", "Bearer " + token)
                .header("Content-Type", "application/json").header("Accept", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofString(report.toJson())).build();
        try {
            HttpResponse<String> resp = http.send(req, HttpResponse.BodyHandlers.ofString());
            if (resp.statusCode() != 200) {
                throw new IOException("PUT " + uri.getPath() + ": HTTP " + resp.statusCode() + " " + abbreviate(resp.body()));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    private static String abbreviate(String s) {
        return s == null ? "" : s.length() > 300 ? s.substring(0, 300) + "…" : s;
    }
}

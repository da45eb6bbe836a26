package dev.sluice.agent.remote;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The agent's side of remote boot (DESIGN §5), with the machine credential:
 * {@code POST /api/v1/machines/{id}/boot-handoff} once the NBD export is up (the driver is initialized: the control
 * plane ends the remote phase and answers with the prefetch priority), and
 * {@code POST /api/v1/machines/{id}/boot-misses} with the first-touch demand misses of the boot it was handed.
 * One attempt per call. Thread-safe.
 */
public final class BootClient {
    /** What the control plane sends: at most this many blocks go into the agent's memory. */
    static final int MAX_PRIORITY = 1 << 20;
    /** The control plane takes at most this many misses per request. */
    static final int MAX_MISSES_PER_REQUEST = 4096;
    private static final Pattern BOOT_ID = Pattern.compile("boot_[0-9a-z]{26}");

    /** The boot this agent serves and its prefetch priority (block indices within the disk, best first). */
    public record Handoff(String bootId, long[] priority) {
    }

    private final HttpClient http;
    private final URI handoff;
    private final URI misses;
    private final String token;
    private final Duration timeout;
    private final long blockCount;

    public BootClient(HttpClient http, URI base, String machineId, String token, Duration timeout, long blockCount) {
        String machine = "/api/v1/machines/" + URLEncoder.encode(machineId, StandardCharsets.UTF_8);
        this.http = http;
        this.handoff = HttpBlockSource.resolve(base, machine + "/boot-handoff");
        this.misses = HttpBlockSource.resolve(base, machine + "/boot-misses");
        this.token = token;
        this.timeout = timeout;
        this.blockCount = blockCount;
    }

    /** Reports the driver up; the answer is checked (a boot id, indices within the disk), never trusted blindly. */
    public Handoff handoff() throws IOException {
        String body = send(HttpRequest.newBuilder(handoff).POST(HttpRequest.BodyPublishers.noBody()), 200);
        if (!(Json.parse(body) instanceof Map<?, ?> doc) || !(doc.get("bootId") instanceof String bootId) || !BOOT_ID.matcher(bootId).matches()
                || !(doc.get("priority") instanceof List<?> list)) {
            throw new IOException("hand-off answer without a boot id and a priority list");
        }
        long[] priority = new long[Math.min(list.size(), MAX_PRIORITY)];
        int n = 0;
        for (Object o : list) {
            if (n == priority.length) break;
            if (o instanceof Long b && b >= 0 && b < blockCount) priority[n++] = b;
        }
        return new Handoff(bootId, java.util.Arrays.copyOf(priority, n));
    }

    /** Sends {@code blocks} (in order, in requests of at most 4096) as first-touch misses of {@code bootId}. */
    public void reportMisses(String bootId, long[] blocks) throws IOException {
        for (int from = 0; from < blocks.length; from += MAX_MISSES_PER_REQUEST) {
            StringBuilder json = new StringBuilder("{\"bootId\":\"").append(bootId).append("\",\"blocks\":[");
            for (int i = from; i < Math.min(blocks.length, from + MAX_MISSES_PER_REQUEST); i++) {
                if (i > from) json.append(',');
                json.append(blocks[i]);
            }
            json.append("]}");
            send(HttpRequest.newBuilder(misses).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(json.toString())), 204);
        }
    }

    private String send(HttpRequest.Builder request, int expected) throws IOException {
        HttpRequest req = request.timeout(timeout).header("Authorization", "Bearer " + token).header("Accept", "application/json").build();
        try {
            HttpResponse<String> resp = http.send(req, HttpResponse.BodyHandlers.ofString());
            if (resp.statusCode() != expected) {
                String b = resp.body() == null ? "" : resp.body();
                throw new IOException("POST " + req.uri().getPath() + ": HTTP " + resp.statusCode() + " " + (b.length() > 300 ? b.substring(0, 300) + "…" : b));
            }
            return resp.body();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }
}

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
 *
 * <p>The hand-off goes over a plain blocking connection ({@link BlockRunClient}), not java.net.http: it is on the
 * critical path of every start (prefetch waits for its priority list) and a fresh JVM needs a few hundred
 * milliseconds to set java.net.http up (measured: the hand-off answered 0.42 s after the export was up, with an idle
 * control plane). The misses, reported later, use the shared HTTP client, which a supplier hands over once it is set
 * up.
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

    private final java.util.function.Supplier<HttpClient> http;
    private final URI base;
    private final String handoffPath;
    private final URI misses;
    private final String token;
    private final Duration timeout;
    private final long blockCount;

    public BootClient(HttpClient http, URI base, String machineId, String token, Duration timeout, long blockCount) {
        this(() -> http, base, machineId, token, timeout, blockCount);
    }

    /** {@code http} is asked for the client only when misses are reported (it may block until the client is set up). */
    public BootClient(java.util.function.Supplier<HttpClient> http, URI base, String machineId, String token, Duration timeout, long blockCount) {
        String machine = "/api/v1/machines/" + URLEncoder.encode(machineId, StandardCharsets.UTF_8).replace("+", "%20");
        String path = base.getRawPath() == null ? "" : base.getRawPath();
        if (path.endsWith("/")) path = path.substring(0, path.length() - 1);
        this.http = http;
        this.base = base;
        this.handoffPath = path + machine + "/boot-handoff";
        this.misses = HttpBlockSource.resolve(base, machine + "/boot-misses");
        this.token = token;
        this.timeout = timeout;
        this.blockCount = blockCount;
    }

    /** Reports the driver up; the answer is checked (a boot id, indices within the disk), never trusted blindly. */
    public Handoff handoff() throws IOException {
        String body = postHandoff();
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

    private String postHandoff() throws IOException {
        int millis = (int) Math.max(1, Math.min(Integer.MAX_VALUE, timeout.toMillis()));
        BlockRunClient client = new BlockRunClient(base, millis);
        try (BlockRunClient.Response resp = client.post(handoffPath, token, "application/json", millis)) {
            byte[] body = resp.body.readNBytes(MAX_HANDOFF_BYTES + 1);
            String text = new String(body, 0, Math.min(body.length, MAX_HANDOFF_BYTES), StandardCharsets.UTF_8);
            if (resp.status != 200) {
                throw new IOException("POST " + handoffPath + ": HTTP " + resp.status + " " + (text.length() > 300 ? text.substring(0, 300) + "…" : text));
            }
            if (body.length > MAX_HANDOFF_BYTES) throw new IOException("hand-off answer over " + MAX_HANDOFF_BYTES + " bytes");
            return text;
        } finally {
            client.close();
        }
    }

    /** The largest hand-off answer read: MAX_PRIORITY block indices of up to 20 digits each, and some. */
    static final int MAX_HANDOFF_BYTES = MAX_PRIORITY * 21 + (1 << 16);

    private String send(HttpRequest.Builder request, int expected) throws IOException {
        HttpRequest req = request.timeout(timeout).header("Authorization", "Bearer " + token).header("Accept", "application/json").build();
        try {
            HttpResponse<String> resp = http.get().send(req, HttpResponse.BodyHandlers.ofString());
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

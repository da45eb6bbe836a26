package dev.sluice.agent.remote;

import java.io.IOException;
import java.net.URI;
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
 * <p>Both go over plain blocking connections ({@link BlockRunClient}): the hand-off is on the critical path of every
 * start (prefetch waits for its priority list), and java.net.http needed a few hundred milliseconds of a fresh JVM to
 * be set up (measured: the hand-off answered 0.42 s after the export was up, with an idle control plane).
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

    private final String handoffPath;
    private final String missesPath;
    private final String token;
    private final Duration timeout;
    private final long blockCount;
    private final BlockRunClient client;

    public BootClient(URI base, String machineId, String token, Duration timeout, long blockCount) {
        String machine = "/api/v1/machines/" + BlockRunClient.segment(machineId);
        this.handoffPath = BlockRunClient.path(base, machine + "/boot-handoff");
        this.missesPath = BlockRunClient.path(base, machine + "/boot-misses");
        this.token = token;
        this.timeout = timeout;
        this.blockCount = blockCount;
        this.client = new BlockRunClient(base, BlockRunClient.millis(timeout));
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
            byte[] body = json.toString().getBytes(StandardCharsets.UTF_8);
            BlockRunClient.Text resp = client.call("POST", missesPath, token, "application/json", "application/json", body, body.length,
                    BlockRunClient.millis(timeout), 1 << 20);
            if (resp.status() != 204) throw new IOException("POST " + missesPath + ": HTTP " + resp.status() + " " + resp.excerpt());
        }
    }

    private String postHandoff() throws IOException {
        for (int attempt = 1; ; attempt++) {
            BlockRunClient.Text resp = client.call("POST", handoffPath, token, "application/json", null, null, 0,
                    BlockRunClient.millis(timeout), MAX_HANDOFF_BYTES);
            if (resp.status() == 200) return resp.body();
            // A concurrent update of the machine (a hydration report, an edit) rolled the hand-off back: try again.
            if (resp.status() == 409 && resp.body().contains("concurrent-modification") && attempt < HANDOFF_ATTEMPTS) {
                sleep(20L << attempt);
                continue;
            }
            throw new IOException("POST " + handoffPath + ": HTTP " + resp.status() + " " + resp.excerpt());
        }
    }

    /** Hand-off attempts when the control plane answers 409 concurrent modification (nothing was changed). */
    static final int HANDOFF_ATTEMPTS = 4;

    private static void sleep(long millis) throws IOException {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    /** The largest hand-off answer read: MAX_PRIORITY block indices of up to 20 digits each, and some. */
    static final int MAX_HANDOFF_BYTES = MAX_PRIORITY * 21 + (1 << 16);
}

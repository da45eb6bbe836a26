package dev.sluice.agent.remote;

import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The agent's end of the command channel: a long poll of {@code GET /api/v1/machines/{id}/commands?wait=…}.
 * The control plane answers with every command that is not done yet, so the same command arrives again on
 * later polls (and after a restart) until its work is finished: callers must recognize repeats by operation id.
 */
public final class ControlChannel {

    /** A command; for kind "snapshot", name and target (null = the repository) come from its payload. */
    public record Command(String id, String kind, String operationId, String name, String target) {
    }

    /** A command list is small; more than this is not one. */
    static final int MAX_ANSWER = 4 << 20;

    private final BlockRunClient client;
    private final URI base;
    private final String machineId;
    private final String token;

    public ControlChannel(URI base, String machineId, String token) {
        this.client = new BlockRunClient(base, 10_000);
        this.base = base;
        this.machineId = machineId;
        this.token = token;
    }

    /** One long poll; returns when commands are pending or {@code wait} passed (then empty). */
    public List<Command> poll(Duration wait) throws IOException {
        String path = BlockRunClient.path(base, "/api/v1/machines/" + BlockRunClient.segment(machineId) + "/commands?wait=" + wait);
        BlockRunClient.Text resp = client.call("GET", path, token, "application/json", null, null, 0,
                BlockRunClient.millis(wait.plusSeconds(15)), MAX_ANSWER);
        if (resp.status() != 200) throw new IOException("GET " + path.replaceFirst("\\?.*", "") + ": HTTP " + resp.status());
        List<Command> out = new ArrayList<>();
        if (Json.parse(resp.body()) instanceof Map<?, ?> doc && doc.get("items") instanceof List<?> items) {
            for (Object o : items) {
                if (!(o instanceof Map<?, ?> c)) continue;
                Map<?, ?> payload = c.get("payload") instanceof Map<?, ?> p ? p : Map.of();
                out.add(new Command(str(c.get("id")), str(c.get("kind")), str(c.get("operationId")),
                        str(payload.get("name")), str(payload.get("target"))));
            }
        }
        return out;
    }

    private static String str(Object o) {
        return o instanceof String s ? s : null;
    }
}

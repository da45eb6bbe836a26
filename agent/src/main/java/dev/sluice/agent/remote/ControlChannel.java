package dev.sluice.agent.remote;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
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

    private final HttpClient http;
    private final URI base;
    private final String machineId;
    private final String token;

    public ControlChannel(HttpClient http, URI base, String machineId, String token) {
        this.http = http;
        this.base = base;
        this.machineId = machineId;
        this.token = token;
    }

    /** One long poll; returns when commands are pending or {@code wait} passed (then empty). */
    public List<Command> poll(Duration wait) throws IOException {
        URI uri = HttpBlockSource.resolve(base, "/api/v1/machines/" + URLEncoder.encode(machineId, StandardCharsets.UTF_8)
                + "/commands?wait=" + wait);
        HttpRequest req = HttpRequest.newBuilder(uri).timeout(wait.plusSeconds(15))
                .header("Authorization", "Bearer " + token).header("Accept", "application/json").GET().build();
        HttpResponse<String> resp;
        try {
            resp = http.send(req, HttpResponse.BodyHandlers.ofString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        if (resp.statusCode() != 200) throw new IOException("GET " + uri.getPath() + ": HTTP " + resp.statusCode());
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

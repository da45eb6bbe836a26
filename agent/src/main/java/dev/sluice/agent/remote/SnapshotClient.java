package dev.sluice.agent.remote;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One snapshot target's upload endpoints ({@code /api/v1/machines/{id}/snapshot-uploads/{operationId}}):
 * declare the cut, learn what the target already holds, send framed blocks, complete. One attempt per call;
 * {@link Refused} marks answers that retrying the same request will not change (4xx). Thread-safe.
 */
public final class SnapshotClient {

    /** What the target holds of an upload; snapshotId is set once it committed. */
    public record UploadState(Set<Long> received, String snapshotId) {
    }

    /** The acknowledgement: the target committed the snapshot. */
    public record Ack(String snapshotId, String imageId) {
    }

    /** A 4xx answer: the request as sent will not succeed (status says why: 404 gone, 409 state conflict). */
    public static final class Refused extends IOException {
        public final int status;

        Refused(int status, String message) {
            super(message);
            this.status = status;
        }
    }

    /** Upload answers are small (the received block list at most: 20 bytes per block of a cut); more is not one. */
    static final int MAX_ANSWER = 64 << 20;

    private final BlockRunClient client;
    private final URI base;
    private final String machineId;
    private final String token;
    private final int timeoutMillis;

    public SnapshotClient(URI base, String machineId, String token, Duration timeout) {
        this.timeoutMillis = BlockRunClient.millis(timeout);
        this.client = new BlockRunClient(base, Math.min(timeoutMillis, 10_000));
        this.base = base;
        this.machineId = machineId;
        this.token = token;
    }

    public URI base() {
        return base;
    }

    public UploadState declareCut(String operationId, long cutBlocks) throws IOException {
        String body = send("PUT", path(operationId, ""), "application/json", json("{\"cutBlocks\":" + cutBlocks + "}"));
        if (!(Json.parse(body) instanceof Map<?, ?> doc)) throw new IOException("upload state is not a JSON object");
        Set<Long> received = new HashSet<>();
        if (doc.get("receivedBlocks") instanceof List<?> list) {
            for (Object o : list) if (o instanceof Long l) received.add(l);
        }
        return new UploadState(received, doc.get("snapshotId") instanceof String s ? s : null);
    }

    /**
     * Sends one batch of frames (docs/block-protocol.md); durably received by the target on return. The batch names
     * the whole cut ({@code cutBlocks}, {@code cutDigest}, as {@link #complete} takes them): if it is the batch that
     * completes the cut, the target commits at once and this returns the acknowledgement; else null. The frames go
     * out in one socket write from the caller's thread (java.net.http handed them over to its selector thread in
     * 16 KiB pieces, and with four batches in flight the last one waited for the others' writes).
     */
    public Ack sendBlocks(String operationId, byte[] frames, int length, long cutBlocks, String cutDigest) throws IOException {
        String body = send("POST", path(operationId, "/blocks?cutBlocks=" + cutBlocks + "&cutDigest=" + cutDigest),
                "application/vnd.sluice.blocks", frames, length);
        if (Json.parse(body) instanceof Map<?, ?> doc && doc.get("committed") instanceof Map<?, ?> ack && ack.get("snapshotId") instanceof String s) {
            return new Ack(s, ack.get("imageId") instanceof String i ? i : null);
        }
        return null;
    }

    public Ack complete(String operationId, long cutBlocks, String cutDigest) throws IOException {
        String body = send("POST", path(operationId, "/complete"), "application/json",
                json("{\"cutBlocks\":" + cutBlocks + ",\"cutDigest\":\"" + cutDigest + "\"}"));
        if (!(Json.parse(body) instanceof Map<?, ?> doc) || !(doc.get("snapshotId") instanceof String s)) {
            throw new IOException("the acknowledgement names no snapshot");
        }
        return new Ack(s, doc.get("imageId") instanceof String i ? i : null);
    }

    private String path(String operationId, String suffix) {
        return BlockRunClient.path(base, "/api/v1/machines/" + BlockRunClient.segment(machineId) + "/snapshot-uploads/"
                + BlockRunClient.segment(operationId) + suffix);
    }

    private static byte[] json(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    private String send(String method, String path, String contentType, byte[] body) throws IOException {
        return send(method, path, contentType, body, body.length);
    }

    private String send(String method, String path, String contentType, byte[] body, int length) throws IOException {
        BlockRunClient.Text resp = client.call(method, path, token, "application/json", contentType, body, length, timeoutMillis, MAX_ANSWER);
        int status = resp.status();
        if (status == 200) return resp.body();
        String what = method + " " + path.replaceFirst("\\?.*", "") + ": HTTP " + status + " " + resp.excerpt();
        if (status >= 400 && status < 500 && status != 408 && status != 429) throw new Refused(status, what);
        throw new IOException(what);
    }
}

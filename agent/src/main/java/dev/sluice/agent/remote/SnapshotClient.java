package dev.sluice.agent.remote;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Flow;

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

    private final HttpClient http;
    private final URI base;
    private final String machineId;
    private final String token;
    private final Duration timeout;

    public SnapshotClient(HttpClient http, URI base, String machineId, String token, Duration timeout) {
        this.http = http;
        this.base = base;
        this.machineId = machineId;
        this.token = token;
        this.timeout = timeout;
    }

    public URI base() {
        return base;
    }

    public UploadState declareCut(String operationId, long cutBlocks) throws IOException {
        String body = send(HttpRequest.newBuilder(uri(operationId, "")).header("Content-Type", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofString("{\"cutBlocks\":" + cutBlocks + "}")));
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
     * completes the cut, the target commits at once and this returns the acknowledgement; else null.
     */
    public Ack sendBlocks(String operationId, byte[] frames, int length, long cutBlocks, String cutDigest) throws IOException {
        String body = send(HttpRequest.newBuilder(uri(operationId, "/blocks?cutBlocks=" + cutBlocks + "&cutDigest=" + cutDigest))
                .header("Content-Type", "application/vnd.sluice.blocks").POST(oneBuffer(frames, length)));
        if (Json.parse(body) instanceof Map<?, ?> doc && doc.get("committed") instanceof Map<?, ?> ack && ack.get("snapshotId") instanceof String s) {
            return new Ack(s, ack.get("imageId") instanceof String i ? i : null);
        }
        return null;
    }

    /**
     * The batch as ONE buffer: {@code BodyPublishers.ofByteArray} hands the client 16 KiB pieces (jdk.httpclient.bufsize),
     * each its own trip through the client's flow and its own socket write, which cost the agent about a CPU-second
     * per GiB of snapshot. A retried request subscribes again and gets the whole buffer again.
     */
    static HttpRequest.BodyPublisher oneBuffer(byte[] bytes, int length) {
        Flow.Publisher<ByteBuffer> publisher = subscriber -> subscriber.onSubscribe(new Flow.Subscription() {
            private boolean done;

            @Override
            public void request(long n) {
                synchronized (this) {
                    if (done || n <= 0) return;
                    done = true;
                }
                subscriber.onNext(ByteBuffer.wrap(bytes, 0, length));
                subscriber.onComplete();
            }

            @Override
            public synchronized void cancel() {
                done = true;
            }
        });
        return HttpRequest.BodyPublishers.fromPublisher(publisher, length);
    }

    public Ack complete(String operationId, long cutBlocks, String cutDigest) throws IOException {
        String body = send(HttpRequest.newBuilder(uri(operationId, "/complete")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"cutBlocks\":" + cutBlocks + ",\"cutDigest\":\"" + cutDigest + "\"}")));
        if (!(Json.parse(body) instanceof Map<?, ?> doc) || !(doc.get("snapshotId") instanceof String s)) {
            throw new IOException("the acknowledgement names no snapshot");
        }
        return new Ack(s, doc.get("imageId") instanceof String i ? i : null);
    }

    private URI uri(String operationId, String suffix) {
        return HttpBlockSource.resolve(base, "/api/v1/machines/" + URLEncoder.encode(machineId, StandardCharsets.UTF_8)
                + "/snapshot-uploads/" + URLEncoder.encode(operationId, StandardCharsets.UTF_8) + suffix);
    }

    private String send(HttpRequest.Builder builder) throws IOException {
        HttpRequest req = builder.timeout(timeout).header("Authorization", "Bearer " + token).header("Accept", "application/json").build();
        HttpResponse<String> resp;
        try {
            resp = http.send(req, HttpResponse.BodyHandlers.ofString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        int status = resp.statusCode();
        if (status == 200) return resp.body();
        String what = req.method() + " " + req.uri().getPath() + ": HTTP " + status + " " + abbreviate(resp.body());
        if (status >= 400 && status < 500 && status != 408 && status != 429) throw new Refused(status, what);
        throw new IOException(what);
    }

    private static String abbreviate(String s) {
        return s == null ? "" : s.length() > 300 ? s.substring(0, 300) + "…" : s;
    }
}

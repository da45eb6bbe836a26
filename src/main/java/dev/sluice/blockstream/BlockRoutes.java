package dev.sluice.blockstream;

import dev.sluice.blockstore.BlockDigest;
import dev.sluice.platform.problem.ApiException;
import dev.sluice.platform.problem.ProblemType;
import dev.sluice.platform.problem.ProblemWriter;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.quarkus.vertx.web.Route;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.Base64;

/**
 * The agents' block endpoints (docs/block-protocol.md): one block, a run of framed blocks, and manifest
 * digests. Every block carries its SHA-256; bytes come only from the verifying store or are synthesized zeros.
 */
@ApplicationScoped
public class BlockRoutes {
    static final int MAX_RUN_BLOCKS = 256;
    static final long MAX_RUN_BYTES = 64L << 20;
    static final int MAX_MANIFEST_ENTRIES = 1 << 20;
    static final int FRAME_HEADER = 45;
    private final java.util.concurrent.ConcurrentHashMap<Integer, byte[]> zeroDigests = new java.util.concurrent.ConcurrentHashMap<>();

    @Inject
    ImageAccess access;
    @Inject
    ImageContent content;
    @Inject
    Vertx vertx;
    @Inject
    BlockReadPool readPool;

    @Route(path = "/api/v1/images/:id/blocks/:index", methods = Route.HttpMethod.GET, type = Route.HandlerType.NORMAL)
    void readImageBlock(RoutingContext rc) {
        access.resolve(rc, false, image -> {
            long index;
            try {
                index = parse(rc.pathParam("index"), "index", 0, image.blockCount() - 1);
            } catch (ApiException e) {
                ProblemWriter.write(rc, e);
                return;
            }
            new BlockStreamer(rc, vertx, readPool, content, image, index, index, (i, digest, bytes) -> {
                int length = image.blockLength(i);
                rc.response().putHeader("Content-Type", "application/octet-stream")
                        .putHeader("Content-Length", Integer.toString(length))
                        .putHeader("Repr-Digest", "sha-256=:" + Base64.getEncoder().encodeToString(digestBytes(digest, length)) + ":");
                return Unpooled.wrappedBuffer(bytes);
            }).start();
        });
    }

    @Route(path = "/api/v1/images/:id/blocks", methods = Route.HttpMethod.GET, type = Route.HandlerType.NORMAL)
    void readImageBlockRun(RoutingContext rc) {
        access.resolve(rc, false, image -> {
            long start;
            long count;
            try {
                start = parse(rc.request().getParam("start"), "start", 0, image.blockCount() - 1);
                count = parse(rc.request().getParam("count"), "count", 1, Math.min(MAX_RUN_BLOCKS, image.blockCount() - start));
                if (count * image.blockSize() > MAX_RUN_BYTES) {
                    throw ApiException.field(ProblemType.INVALID_PARAMETER, "count", "at most " + MAX_RUN_BYTES + " bytes per run");
                }
            } catch (ApiException e) {
                ProblemWriter.write(rc, e);
                return;
            }
            rc.response().setStatusCode(200).putHeader("Content-Type", "application/vnd.sluice.blocks")
                    .putHeader("Sluice-Block-Size", Integer.toString(image.blockSize()))
                    .putHeader("Sluice-Block-Count", Long.toString(image.blockCount()))
                    .setChunked(true);
            DirectSlab headers = new DirectSlab(FRAME_HEADER * 64);
            new BlockStreamer(rc, vertx, readPool, content, image, start, start + count - 1, (i, digest, bytes) -> {
                int length = image.blockLength(i);
                boolean zero = digest == null;
                ByteBuf header = headers.take(FRAME_HEADER);
                header.writeLong(i).writeByte(zero ? 1 : 0).writeInt(zero ? 0 : length).writeBytes(digestBytes(digest, length));
                return zero ? header : Unpooled.wrappedBuffer(header, Unpooled.wrappedBuffer(bytes));
            }).start();
        });
    }

    @Route(path = "/api/v1/images/:id/manifest", methods = Route.HttpMethod.GET, type = Route.HandlerType.NORMAL)
    void readImageManifest(RoutingContext rc) {
        access.resolve(rc, false, image -> {
            long start;
            long count;
            try {
                start = rc.request().getParam("start") == null ? 0 : parse(rc.request().getParam("start"), "start", 0, Math.max(0, image.blockCount() - 1));
                long remaining = image.blockCount() - start;
                count = rc.request().getParam("count") == null ? Math.min(remaining, MAX_MANIFEST_ENTRIES)
                        : parse(rc.request().getParam("count"), "count", 1, Math.min(remaining, MAX_MANIFEST_ENTRIES));
            } catch (ApiException e) {
                ProblemWriter.write(rc, e);
                return;
            }
            long s = start;
            long n = count;
            vertx.executeBlocking(() -> {
                byte[] out = new byte[(int) n * BlockDigest.LENGTH];
                for (long i = 0; i < n; i++) {
                    BlockDigest d = content.digest(image, s + i);
                    if (d != null) {
                        System.arraycopy(d.toBytes(), 0, out, (int) i * BlockDigest.LENGTH, BlockDigest.LENGTH);
                    }
                }
                return out;
            }, false).onComplete(ar -> {
                if (ar.failed()) {
                    ProblemWriter.write(rc, ar.cause());
                    return;
                }
                rc.response().putHeader("Content-Type", "application/octet-stream")
                        .putHeader("Sluice-Block-Size", Integer.toString(image.blockSize()))
                        .putHeader("Sluice-Block-Count", Long.toString(image.blockCount()))
                        .end(Buffer.buffer(ar.result()));
            });
        });
    }

    /** A zero block's digest is that of its zero bytes (computed once per length). */
    private byte[] digestBytes(BlockDigest digest, int length) {
        if (digest != null) {
            return digest.toBytes();
        }
        return zeroDigests.computeIfAbsent(length, n -> BlockDigest.of(new byte[n]).toBytes());
    }

    private static long parse(String raw, String name, long min, long max) {
        if (raw == null) {
            throw ApiException.field(ProblemType.INVALID_PARAMETER, name, "required");
        }
        try {
            long v = Long.parseLong(raw);
            if (v < min || v > max) {
                throw ApiException.field(ProblemType.INVALID_PARAMETER, name, "must be between " + min + " and " + max);
            }
            return v;
        } catch (NumberFormatException e) {
            throw ApiException.field(ProblemType.INVALID_PARAMETER, name, "not an integer");
        }
    }
}

package dev.sluice.agent.remote;

import dev.sluice.agent.engine.BlockSource;
import dev.sluice.agent.engine.Geometry;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.concurrent.ScheduledFuture;
import java.util.function.Consumer;

/**
 * {@link BlockSource} over the block wire contract (docs/block-protocol.md): runs of blocks from
 * {@code GET /api/v1/images/{imageId}/blocks?start=S&count=N} (over {@link BlockRunClient}, kept-alive
 * connections), framed, each frame's SHA-256 verified before the block is handed on. A stream that ends early keeps the verified frames and the rest is
 * asked for again; failures are retried with exponential backoff until the caller's deadline or
 * {@code maxAttempts} consecutive failures without progress. 401/403/404 are not retried.
 *
 * Thread-safe; every call streams into its own buffer of one block.
 */
public final class HttpBlockSource implements BlockSource {

    /** The wire's caps: at most 256 blocks and 64 MiB per run request. */
    static final int MAX_RUN_BLOCKS = 256;
    static final long MAX_RUN_BYTES = 64L << 20;
    static final int FRAME_HEADER = 45;
    static final int FLAG_ZERO = 1;

    private final URI base;
    private final String imageId;
    private final String token;
    private final Geometry geometry;
    private final Duration requestTimeout;
    private final int maxAttempts;
    private final Consumer<String> log;
    private final BlockRunClient runs;
    private final String basePath;
    private final byte[] zeroDigestFull;
    private final byte[] zeroDigestLast;

    /** A failure that retrying will not fix (authorization, missing image). */
    static final class PermanentFailure extends IOException {
        PermanentFailure(String message) {
            super(message);
        }
    }

    public HttpBlockSource(URI base, String imageId, String token, Geometry geometry,
                           Duration requestTimeout, int maxAttempts, Consumer<String> log) {
        this.base = base;
        this.imageId = imageId;
        this.token = token;
        this.geometry = geometry;
        this.requestTimeout = requestTimeout;
        this.maxAttempts = maxAttempts;
        this.log = log;
        this.runs = new BlockRunClient(base, 10_000);
        this.basePath = BlockRunClient.path(base, "");
        this.zeroDigestFull = sha256(new byte[geometry.blockSize()], geometry.blockSize());
        int lastLen = geometry.blockLength(geometry.blockCount() - 1);
        this.zeroDigestLast = sha256(new byte[lastLen], lastLen);
    }

    /**
     * Fetches the machine document, {@code GET /api/v1/machines/{id}}, over one plain blocking connection
     * ({@link BlockRunClient}): it is on the boot path (no export before the geometry is known), and java.net.http
     * costs a fresh JVM a few hundred milliseconds of class loading and TLS set-up first. One attempt; every socket
     * read waits at most {@code timeout}.
     */
    public static MachineInfo fetchMachine(URI base, String machineId, String token, Duration timeout) throws IOException {
        int millis = BlockRunClient.millis(timeout);
        BlockRunClient client = new BlockRunClient(base, millis);
        try (BlockRunClient.Response resp = client.get(BlockRunClient.path(base, "/api/v1/machines/" + BlockRunClient.segment(machineId)),
                token, "application/json", millis)) {
            if (resp.status != 200) throw new IOException("GET machine " + machineId + ": HTTP " + resp.status);
            byte[] body = resp.body.readNBytes(MAX_MACHINE_DOCUMENT + 1);
            if (body.length > MAX_MACHINE_DOCUMENT) throw new IOException("GET machine " + machineId + ": document over " + MAX_MACHINE_DOCUMENT + " bytes");
            return MachineInfo.parse(machineId, new String(body, StandardCharsets.UTF_8));
        } catch (IllegalArgumentException e) {
            throw new IOException("machine " + machineId + ": " + e.getMessage(), e);
        } finally {
            client.close();
        }
    }

    /** The machine document is a few hundred bytes; more than this is not one. */
    static final int MAX_MACHINE_DOCUMENT = 1 << 20;

    @Override
    public void fetch(long start, int count, long deadlineNanos, Sink sink) throws IOException {
        long end = start + count;
        if (start < 0 || count < 0 || end > geometry.blockCount()) throw new IllegalArgumentException("blocks " + start + "+" + count);
        byte[] buffer = new byte[geometry.blockSize()];
        long next = start;
        int failures = 0;
        long backoffMillis = 100;
        while (next < end) {
            int n = (int) Math.min(end - next, Math.min(MAX_RUN_BLOCKS, Math.max(1, MAX_RUN_BYTES / geometry.blockSize())));
            long before = next;
            try {
                next = fetchRun(next, n, deadlineNanos, sink, buffer);
                if (next < before + n) throw new EOFException("stream ended after " + (next - before) + " of " + n + " frames");
            } catch (PermanentFailure e) {
                throw e;
            } catch (IOException e) {
                if (next > before) {
                    failures = 0;
                    backoffMillis = 100;
                }
                failures++;
                long remainingMillis = (deadlineNanos - System.nanoTime()) / 1_000_000;
                if (failures >= maxAttempts || remainingMillis <= backoffMillis) {
                    throw new IOException("blocks " + next + ".." + (end - 1) + ": " + e.getMessage(), e);
                }
                log.accept("remote: blocks " + next + ".." + (end - 1) + " failed (" + e.getMessage() + "), retrying in " + backoffMillis + " ms");
                sleep(backoffMillis);
                backoffMillis = Math.min(backoffMillis * 2, 5000);
            }
        }
    }

    /** One request; returns the index after the last verified block delivered. */
    private long fetchRun(long start, int count, long deadlineNanos, Sink sink, byte[] buffer) throws IOException {
        long remaining = deadlineNanos - System.nanoTime();
        if (remaining <= 0) throw new IOException("deadline passed");
        long timeoutNanos = Math.min(remaining, requestTimeout.toNanos());
        String path = basePath + "/api/v1/images/" + BlockRunClient.segment(imageId) + "/blocks?start=" + start + "&count=" + count;
        long next = start;
        BlockRunClient.Response resp = runs.get(path, token, "application/vnd.sluice.blocks",
                (int) Math.max(1, Math.min(Integer.MAX_VALUE, timeoutNanos / 1_000_000)));
        // Each socket read is bounded by the timeout; the whole body by the watchdog, which cuts the connection.
        ScheduledFuture<?> cut = BlockRunClient.cutAfter(resp::abort, timeoutNanos);
        try (resp) {
            int status = resp.status;
            if (status == 401 || status == 403 || status == 404) {
                throw new PermanentFailure("GET " + path + ": HTTP " + status);
            }
            if (status != 200) throw new IOException("GET blocks: HTTP " + status);
            InputStream in = resp.body;
            byte[] header = new byte[FRAME_HEADER];
            MessageDigest sha = newSha256();
            for (int f = 0; f < count; f++) {
                if (!readFully(in, header, FRAME_HEADER, true)) return next;
                ByteBuffer h = ByteBuffer.wrap(header);
                long index = h.getLong();
                int flags = h.get() & 0xFF;
                long length = Integer.toUnsignedLong(h.getInt());
                byte[] digest = new byte[32];
                h.get(digest);
                if (index != next) throw new IOException("frame for block " + index + ", expected " + next);
                int blockLength = geometry.blockLength(index);
                if ((flags & FLAG_ZERO) != 0) {
                    if (length != 0) throw new IOException("zero frame with data for block " + index);
                    byte[] expected = blockLength == geometry.blockSize() ? zeroDigestFull : zeroDigestLast;
                    if (!Arrays.equals(expected, digest)) throw new IOException("bad digest on zero block " + index);
                    Arrays.fill(buffer, 0, blockLength, (byte) 0);
                } else {
                    if (length != blockLength) throw new IOException("block " + index + " has " + length + " bytes, expected " + blockLength);
                    if (!readFully(in, buffer, blockLength, false)) throw new EOFException("stream ended inside block " + index);
                    sha.reset();
                    sha.update(buffer, 0, blockLength);
                    byte[] actual = sha.digest();
                    if (!MessageDigest.isEqual(actual, digest)) {
                        throw new IOException("digest mismatch on block " + index + ": got " + HexFormat.of().formatHex(actual));
                    }
                }
                sink.accept(index, ByteBuffer.wrap(buffer, 0, blockLength));
                next++;
            }
            resp.finish();
            return next;
        } catch (IOException e) {
            if (next > start && !(e instanceof PermanentFailure)) {
                log.accept("remote: run at " + start + " broke after " + (next - start) + " blocks: " + e.getMessage());
                return next; // keep what was verified; the caller asks for the rest
            }
            throw e;
        } finally {
            cut.cancel(false);
        }
    }

    /**
     * Fills {@code b[0..n)}; returns false when the stream ends before the first byte ({@code cleanEndAllowed}),
     * throws EOFException when it ends later.
     */
    private static boolean readFully(InputStream in, byte[] b, int n, boolean cleanEndAllowed) throws IOException {
        int off = 0;
        while (off < n) {
            int r = in.read(b, off, n - off);
            if (r < 0) {
                if (off == 0 && cleanEndAllowed) return false;
                throw new EOFException("stream ended after " + off + " of " + n + " bytes");
            }
            off += r;
        }
        return true;
    }

    private static void sleep(long millis) throws IOException {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    /**
     * Runs the digest check's code until the JIT has compiled it (the SHA-256 intrinsic): the first blocks of a
     * fresh JVM cost milliseconds each to verify, later ones tens of microseconds. The agent calls this on a
     * background thread right after its export is up, while the guest's kernel starts and reads nothing yet, so
     * the guest's first misses do not pay for it. Returns the nanoseconds it took.
     */
    public static long warmUp(int blockSize, int rounds) {
        long t0 = System.nanoTime();
        byte[] data = new byte[Math.max(4096, Math.min(blockSize, 1 << 20))];
        new java.util.Random(rounds).nextBytes(data);
        MessageDigest sha = newSha256();
        byte[] sink = new byte[32];
        for (int i = 0; i < rounds; i++) {
            sha.reset();
            sha.update(data, 0, data.length);
            byte[] d = sha.digest();
            sink[i & 31] ^= d[i & 31];
            if (MessageDigest.isEqual(d, sink)) data[0]++; // keeps the result live
        }
        return System.nanoTime() - t0;
    }

    static MessageDigest newSha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK always has SHA-256", e);
        }
    }

    private static byte[] sha256(byte[] data, int len) {
        MessageDigest d = newSha256();
        d.update(data, 0, len);
        return d.digest();
    }
}

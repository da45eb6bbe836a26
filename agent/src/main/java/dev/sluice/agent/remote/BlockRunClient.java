package dev.sluice.agent.remote;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;

/*
 * Design notes (block run client).
 *
 * The block runs are the agent's bulk traffic: a cold read or a prefetch moves the whole disk through
 * them. java.net.http spends more CPU than the hashing on that (a selector thread and a worker hand
 * every 16 KiB over in a freshly allocated buffer, and its code takes seconds of JIT time in a fresh
 * agent), so runs use this small blocking HTTP/1.1 client instead: one keep-alive connection per
 * request in flight, taken from an idle pool, the body read straight from the socket by the caller's
 * thread. GET (and, through {@link #call}, any method with an optional body), with a Bearer token; Content-Length and
 * chunked answers; http and https.
 * The agent's other calls (hand-off, hydration reports, the command poll, snapshot uploads) use it too, through
 * {@link #call}: java.net.http cost a fresh agent about 0.2 CPU-seconds to set up, on the two CPUs its first prefetch
 * (or a guest's first reads) needed.
 *
 * Timeouts: `connectTimeout` for the connection, then every socket read may wait at most the
 * request's `readTimeoutMillis`, so a stalled control plane surfaces as SocketTimeoutException.
 * A connection goes back to the pool only after its body was read to the end; any failure closes it.
 * Thread-safe; memory: an idle pool of at most MAX_IDLE sockets with 64 KiB buffers.
 */
final class BlockRunClient {

    static final int MAX_IDLE = 16;
    private static final int BUFFER = 64 * 1024;
    private static final int MAX_HEADER_BYTES = 64 * 1024;

    private final String host;
    private final int port;
    private final boolean tls;
    private final String hostHeader;
    private final int connectTimeoutMillis;
    private final ConcurrentLinkedDeque<Connection> idle = new ConcurrentLinkedDeque<>();

    BlockRunClient(URI base, int connectTimeoutMillis) {
        String scheme = base.getScheme() == null ? "" : base.getScheme().toLowerCase();
        if (!scheme.equals("http") && !scheme.equals("https")) throw new IllegalArgumentException("control plane URL must be http or https: " + base);
        if (base.getHost() == null) throw new IllegalArgumentException("control plane URL has no host: " + base);
        this.tls = scheme.equals("https");
        this.host = base.getHost();
        this.port = base.getPort() > 0 ? base.getPort() : tls ? 443 : 80;
        this.hostHeader = base.getPort() > 0 ? host + ":" + port : host;
        this.connectTimeoutMillis = connectTimeoutMillis;
    }

    /** A response whose body must be closed; closing it after reading it to the end keeps the connection. */
    static final class Response implements AutoCloseable {
        final int status;
        final InputStream body;
        private final Connection connection;
        private final BlockRunClient owner;
        private volatile boolean closed;

        private Response(int status, InputStream body, Connection connection, BlockRunClient owner) {
            this.status = status;
            this.body = body;
            this.connection = connection;
            this.owner = owner;
        }

        /** Reads what is left of the body (at most 64 KiB, e.g. the last chunk), so close() can keep the connection. */
        void finish() {
            byte[] skip = new byte[8192];
            try {
                for (int total = 0; total < 65536; ) {
                    int n = body.read(skip, 0, skip.length);
                    if (n < 0) return;
                    total += n;
                }
            } catch (IOException e) {
                abort();
            }
        }

        /** Ends the exchange early (e.g. a stall): the connection is dropped. */
        void abort() {
            closed = true;
            connection.closeQuietly();
        }

        @Override
        public void close() {
            if (closed) return;
            closed = true;
            if (body instanceof BodyStream b && b.complete() && connection.keepAlive) owner.release(connection);
            else connection.closeQuietly();
        }
    }

    /**
     * Sends {@code GET pathAndQuery} and reads the status line and headers. Each socket read waits at
     * most {@code readTimeoutMillis}. A failure on a reused connection (the server may have closed it
     * while idle) is retried once on a fresh one.
     */
    Response get(String pathAndQuery, String bearer, String accept, int readTimeoutMillis) throws IOException {
        return send("GET", pathAndQuery, bearer, accept, null, null, 0, readTimeoutMillis, null);
    }

    /** {@code suffix} (starting with '/') under the base URL's path. */
    static String path(URI base, String suffix) {
        String path = base.getRawPath() == null ? "" : base.getRawPath();
        return (path.endsWith("/") ? path.substring(0, path.length() - 1) : path) + suffix;
    }

    /** {@code s} as one path segment (an id): percent-encoded, a space as %20. */
    static String segment(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }

    /** A timeout as the int milliseconds a socket takes: at least 1 (0 would mean none), at most Integer.MAX_VALUE. */
    static int millis(Duration timeout) {
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, timeout.toMillis()));
    }

    /** A whole exchange's outcome: the status and the body as text (UTF-8). */
    record Text(int status, String body) {
        /** The body for an error message: its first 300 characters. */
        String excerpt() {
            return body.length() > 300 ? body.substring(0, 300) + "…" : body;
        }
    }

    /**
     * One whole exchange with an optional body ({@code contentType} and {@code body[0..length)}; null: none), its
     * answer read to the end (at most {@code maxBody} bytes, else IOException). The exchange as a whole, writing the
     * body included (a blocking socket write has no timeout of its own), is cut after {@code timeoutMillis}.
     */
    Text call(String method, String pathAndQuery, String bearer, String accept, String contentType, byte[] body, int length,
              int timeoutMillis, int maxBody) throws IOException {
        // Only a GET goes out on an idle kept-alive connection (which the server may have closed): other methods are
        // not retried, so they always get a fresh one.
        AtomicReference<Connection> using = new AtomicReference<>();
        AtomicBoolean cut = new AtomicBoolean();
        ScheduledFuture<?> watchdog = cutAfter(() -> {
            cut.set(true);
            Connection c = using.get();
            if (c != null) c.closeQuietly(); // unblocks the reading or writing thread
        }, TimeUnit.MILLISECONDS.toNanos(Math.max(1, timeoutMillis)));
        try (Response resp = send(method, pathAndQuery, bearer, accept, contentType, body, length, timeoutMillis, using)) {
            byte[] bytes = resp.body.readNBytes(maxBody + 1);
            if (bytes.length > maxBody) throw new IOException(method + " " + pathAndQuery + ": answer over " + maxBody + " bytes");
            return new Text(resp.status, new String(bytes, StandardCharsets.UTF_8));
        } catch (IOException e) {
            if (cut.get()) throw new SocketTimeoutException(method + " " + pathAndQuery + ": no answer within " + timeoutMillis + " ms");
            throw e;
        } finally {
            watchdog.cancel(false);
        }
    }

    /**
     * Cuts exchanges that overrun their timeout: {@link #call}'s, and a block run's body ({@link HttpBlockSource}).
     * One daemon thread for every client.
     */
    private static final ScheduledExecutorService WATCHDOG = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "http-watchdog");
        t.setDaemon(true);
        return t;
    });

    /** Runs {@code cut} (e.g. {@link Response#abort}) after {@code nanos} unless the returned future is cancelled first. */
    static ScheduledFuture<?> cutAfter(Runnable cut, long nanos) {
        return WATCHDOG.schedule(cut, nanos, TimeUnit.NANOSECONDS);
    }

    private Response send(String method, String pathAndQuery, String bearer, String accept, String contentType, byte[] body,
                          int length, int readTimeoutMillis, AtomicReference<Connection> using) throws IOException {
        Connection c = method.equals("GET") ? idle.pollFirst() : null;
        if (c != null) {
            if (using != null) using.set(c);
            try {
                return exchange(c, method, pathAndQuery, bearer, accept, contentType, body, length, readTimeoutMillis);
            } catch (SocketTimeoutException e) {
                c.closeQuietly();
                throw e;
            } catch (IOException e) {
                c.closeQuietly(); // stale keep-alive connection: try a fresh one
            }
        }
        c = open();
        if (using != null) using.set(c);
        try {
            return exchange(c, method, pathAndQuery, bearer, accept, contentType, body, length, readTimeoutMillis);
        } catch (IOException | RuntimeException e) {
            c.closeQuietly();
            throw e;
        }
    }

    /** Closes the idle connections. */
    void close() {
        for (Connection c; (c = idle.pollFirst()) != null; ) c.closeQuietly();
    }

    private void release(Connection c) {
        if (idle.size() < MAX_IDLE) idle.addFirst(c);
        else c.closeQuietly();
    }

    private Connection open() throws IOException {
        Socket s = new Socket();
        try {
            s.setTcpNoDelay(true);
            s.connect(new InetSocketAddress(host, port), connectTimeoutMillis);
            if (tls) {
                SSLSocket ssl = (SSLSocket) ((SSLSocketFactory) SSLSocketFactory.getDefault()).createSocket(s, host, port, true);
                SSLParameters params = ssl.getSSLParameters();
                params.setEndpointIdentificationAlgorithm("HTTPS"); // check the certificate names this host
                ssl.setSSLParameters(params);
                s = ssl;
                ssl.setSoTimeout(connectTimeoutMillis);
                ssl.startHandshake();
            }
            return new Connection(s);
        } catch (IOException e) {
            s.close();
            throw e;
        }
    }

    private Response exchange(Connection c, String method, String pathAndQuery, String bearer, String accept, String contentType,
                              byte[] content, int contentLength, int readTimeoutMillis) throws IOException {
        c.socket.setSoTimeout(Math.max(1, readTimeoutMillis));
        String framing = content != null ? "Content-Type: " + contentType + "\r\nContent-Length: " + contentLength + "\r\n"
                : method.equals("GET") ? "" : "Content-Length: 0\r\n";
        String request = method + " " + pathAndQuery + " HTTP/1.1\r\nHost: " + hostHeader + "\r\nAuthorization: Bearer " + bearer
                + "\r\nAccept: " + accept + "\r\nUser-Agent: sluice-agent\r\n" + framing + "\r\n";
        c.out.write(request.getBytes(StandardCharsets.ISO_8859_1));
        if (content != null) c.out.write(content, 0, contentLength);
        c.out.flush();
        String statusLine = c.readLine();
        if (statusLine == null) throw new EOFException("connection closed before the response");
        String[] parts = statusLine.split(" ", 3);
        if (parts.length < 2 || !parts[0].startsWith("HTTP/1.")) throw new IOException("bad status line: " + statusLine);
        int status;
        try {
            status = Integer.parseInt(parts[1]);
        } catch (NumberFormatException e) {
            throw new IOException("bad status line: " + statusLine);
        }
        long length = -1;
        boolean chunked = false;
        c.keepAlive = !parts[0].equals("HTTP/1.0");
        int headerBytes = 0;
        for (String line; ; ) {
            line = c.readLine();
            if (line == null) throw new EOFException("connection closed in the headers");
            if (line.isEmpty()) break;
            headerBytes += line.length();
            if (headerBytes > MAX_HEADER_BYTES) throw new IOException("response headers too long");
            int colon = line.indexOf(':');
            if (colon <= 0) continue;
            String name = line.substring(0, colon).trim().toLowerCase();
            String value = line.substring(colon + 1).trim();
            switch (name) {
                case "content-length" -> {
                    try {
                        length = Long.parseLong(value);
                    } catch (NumberFormatException e) {
                        throw new IOException("bad Content-Length: " + value);
                    }
                }
                case "transfer-encoding" -> chunked = value.toLowerCase().contains("chunked");
                case "connection" -> {
                    if (value.equalsIgnoreCase("close")) c.keepAlive = false;
                }
                default -> { }
            }
        }
        BodyStream body;
        // RFC 9112 §6.3: a 204 or 304 answer ends with its headers, whatever they say.
        if (status == 204 || status == 304) body = new FixedBody(c.in, 0);
        else if (chunked) body = new ChunkedBody(c);
        else if (length >= 0) body = new FixedBody(c.in, length);
        else {
            c.keepAlive = false;
            body = new FixedBody(c.in, Long.MAX_VALUE); // until the server closes
        }
        return new Response(status, body, c, this);
    }

    private static final class Connection {
        final Socket socket;
        final BufferedInputStream in;
        final OutputStream out;
        boolean keepAlive;

        Connection(Socket socket) throws IOException {
            this.socket = socket;
            this.in = new BufferedInputStream(socket.getInputStream(), BUFFER);
            this.out = socket.getOutputStream();
        }

        /** A CRLF- (or LF-) terminated ISO-8859-1 line without its terminator; null at end of stream. */
        String readLine() throws IOException {
            StringBuilder b = new StringBuilder(64);
            for (int ch; ; ) {
                ch = in.read();
                if (ch < 0) return b.isEmpty() ? null : b.toString();
                if (ch == '\n') break;
                if (b.length() >= 8192) throw new IOException("response line too long");
                b.append((char) ch);
            }
            int n = b.length();
            if (n > 0 && b.charAt(n - 1) == '\r') b.setLength(n - 1);
            return b.toString();
        }

        void closeQuietly() {
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing a connection we give up on
            }
        }
    }

    /** A body that knows whether it was read to its end (only then may the connection be reused). */
    private abstract static class BodyStream extends InputStream {
        abstract boolean complete();

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
        }
    }

    private static final class FixedBody extends BodyStream {
        private final InputStream in;
        private long remaining;

        FixedBody(InputStream in, long length) {
            this.in = in;
            this.remaining = length;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (remaining == 0) return -1;
            int n = in.read(b, off, (int) Math.min(len, remaining));
            if (n < 0) {
                if (remaining != Long.MAX_VALUE) throw new EOFException("body ended " + remaining + " bytes early");
                remaining = 0;
                return -1;
            }
            if (remaining != Long.MAX_VALUE) remaining -= n;
            return n;
        }

        @Override
        boolean complete() {
            return remaining == 0;
        }
    }

    private static final class ChunkedBody extends BodyStream {
        private final Connection c;
        private long chunkLeft;
        private boolean done;

        ChunkedBody(Connection c) {
            this.c = c;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (done) return -1;
            if (chunkLeft == 0) {
                String size = c.readLine();
                if (size == null) throw new EOFException("chunked body ended without its last chunk");
                int semi = size.indexOf(';');
                try {
                    chunkLeft = Long.parseLong((semi < 0 ? size : size.substring(0, semi)).trim(), 16);
                } catch (NumberFormatException e) {
                    throw new IOException("bad chunk size: " + size);
                }
                if (chunkLeft < 0) throw new IOException("bad chunk size: " + size);
                if (chunkLeft == 0) {
                    for (String trailer; (trailer = c.readLine()) != null && !trailer.isEmpty(); ) {
                        // trailers are not used
                    }
                    done = true;
                    return -1;
                }
            }
            int n = c.in.read(b, off, (int) Math.min(len, chunkLeft));
            if (n < 0) throw new EOFException("chunked body ended inside a chunk");
            chunkLeft -= n;
            if (chunkLeft == 0) {
                String crlf = c.readLine();
                if (crlf == null || !crlf.isEmpty()) throw new IOException("chunk not followed by CRLF");
            }
            return n;
        }

        @Override
        boolean complete() {
            return done;
        }
    }
}

package dev.sluice.agent.remote;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.*;

/** The block run client against a raw socket server whose every response byte the test chooses. */
class BlockRunClientTest {

    private ServerSocket server;
    private final AtomicInteger connections = new AtomicInteger();
    private final List<String> requests = new CopyOnWriteArrayList<>();
    private final List<Socket> open = new CopyOnWriteArrayList<>();

    /** Serves each request line with {@code reply.apply(requestLine)}: raw response bytes, or null to hang. */
    private URI serve(Function<String, byte[]> reply) throws IOException {
        server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread t = new Thread(() -> {
            while (!server.isClosed()) {
                try {
                    Socket s = server.accept();
                    open.add(s);
                    connections.incrementAndGet();
                    Thread c = new Thread(() -> handle(s, reply));
                    c.setDaemon(true);
                    c.start();
                } catch (IOException e) {
                    return;
                }
            }
        });
        t.setDaemon(true);
        t.start();
        return URI.create("http://127.0.0.1:" + server.getLocalPort());
    }

    private void handle(Socket s, Function<String, byte[]> reply) {
        try (s; BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.ISO_8859_1))) {
            OutputStream out = s.getOutputStream();
            while (true) {
                String line = in.readLine();
                if (line == null) return;
                requests.add(line);
                for (String h; (h = in.readLine()) != null && !h.isEmpty(); ) requests.add(h);
                byte[] r = reply.apply(line);
                if (r == null) {
                    Thread.sleep(60_000);
                    return;
                }
                out.write(r);
                out.flush();
                if (new String(r, StandardCharsets.ISO_8859_1).contains("Connection: close")) return;
            }
        } catch (IOException | InterruptedException e) {
            // the client went away
        }
    }

    @AfterEach
    void tearDown() throws IOException {
        if (server != null) server.close();
        for (Socket s : open) s.close();
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    private static byte[] readAll(BlockRunClient.Response r) throws IOException {
        return r.body.readAllBytes();
    }

    @Test
    void postSendsAnEmptyBodyAndNeverGoesOutOnAnIdleConnection() throws IOException {
        URI base = serve(line -> ascii("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
        BlockRunClient client = new BlockRunClient(base, 2000);
        try (BlockRunClient.Response r = client.get("/first", "secret", "application/json", 2000)) {
            assertEquals("ok", new String(readAll(r), StandardCharsets.ISO_8859_1));
        }
        BlockRunClient.Text r = client.call("POST", "/machines/m/boot-handoff", "secret", "application/json", null, null, 0, 2000, 100);
        assertEquals(200, r.status());
        assertEquals("ok", r.body());
        assertTrue(requests.contains("POST /machines/m/boot-handoff HTTP/1.1"), requests.toString());
        assertTrue(requests.contains("Content-Length: 0"), requests.toString());
        assertEquals(2, connections.get(), "the POST opened a connection of its own (not retried on a stale idle one)");
        client.close();
    }

    @Test
    void sendsTheBearerAndReusesTheConnectionForFixedAndChunkedBodies() throws IOException {
        URI base = serve(line -> line.contains("chunked")
                ? ascii("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n")
                : ascii("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"));
        BlockRunClient client = new BlockRunClient(base, 2000);
        for (int i = 0; i < 3; i++) {
            try (BlockRunClient.Response r = client.get("/fixed", "secret", "application/vnd.sluice.blocks", 2000)) {
                assertEquals(200, r.status);
                assertEquals("hello", new String(readAll(r), StandardCharsets.ISO_8859_1));
            }
            try (BlockRunClient.Response r = client.get("/chunked", "secret", "application/vnd.sluice.blocks", 2000)) {
                assertEquals("abcde", new String(readAll(r), StandardCharsets.ISO_8859_1));
            }
        }
        assertEquals(1, connections.get(), "one kept-alive connection for six requests");
        assertTrue(requests.contains("Authorization: Bearer secret"), requests.toString());
        assertTrue(requests.contains("GET /fixed HTTP/1.1"), requests.toString());
        client.close();
    }

    @Test
    void aBodyNotReadToItsEndOrMarkedCloseIsNotReused() throws IOException {
        URI base = serve(line -> line.contains("close")
                ? ascii("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
                : ascii("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"));
        BlockRunClient client = new BlockRunClient(base, 2000);
        try (BlockRunClient.Response r = client.get("/partial", "t", "*/*", 2000)) {
            assertEquals('h', r.body.read());
        }
        try (BlockRunClient.Response r = client.get("/close", "t", "*/*", 2000)) {
            readAll(r);
        }
        try (BlockRunClient.Response r = client.get("/fixed", "t", "*/*", 2000)) {
            assertEquals("hello", new String(readAll(r), StandardCharsets.ISO_8859_1));
        }
        assertEquals(3, connections.get());
    }

    @Test
    void truncatedBodiesAndBadFramingAreErrors() throws IOException {
        URI base = serve(line -> {
            if (line.contains("short")) return ascii("HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nabc");
            if (line.contains("badchunk")) return ascii("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
            if (line.contains("cutchunk")) return ascii("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n10\r\nabc");
            return ascii("NOT-HTTP\r\n\r\n");
        });
        BlockRunClient client = new BlockRunClient(base, 2000);
        try (BlockRunClient.Response r = client.get("/short", "t", "*/*", 2000)) {
            assertThrows(EOFException.class, () -> readAll(r));
        }
        try (BlockRunClient.Response r = client.get("/badchunk", "t", "*/*", 2000)) {
            IOException e = assertThrows(IOException.class, () -> readAll(r));
            assertTrue(e.getMessage().contains("chunk size"), e.getMessage());
        }
        try (BlockRunClient.Response r = client.get("/cutchunk", "t", "*/*", 2000)) {
            assertThrows(EOFException.class, () -> readAll(r));
        }
        IOException e = assertThrows(IOException.class, () -> client.get("/garbage", "t", "*/*", 2000));
        assertTrue(e.getMessage().contains("status line"), e.getMessage());
    }

    @Test
    void aSilentServerTimesOut() throws IOException {
        URI base = serve(line -> null);
        BlockRunClient client = new BlockRunClient(base, 2000);
        assertThrows(SocketTimeoutException.class, () -> client.get("/hang", "t", "*/*", 300));
    }

    @Test
    void aCallSendsItsBodyReadsTheWholeAnswerAndKnowsA204HasNone() throws IOException {
        server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread t = new Thread(() -> {
            try (Socket s = server.accept()) {
                java.io.DataInputStream in = new java.io.DataInputStream(s.getInputStream());
                OutputStream out = s.getOutputStream();
                for (int exchange = 0; exchange < 2; exchange++) {
                    int length = 0;
                    for (String h; !(h = readLine(in)).isEmpty(); ) {
                        requests.add(h);
                        if (h.startsWith("Content-Length: ")) length = Integer.parseInt(h.substring(16));
                    }
                    byte[] body = in.readNBytes(length);
                    requests.add("body " + new String(body, StandardCharsets.UTF_8));
                    // the first answer: 204 with a (wrong) header claiming a body it does not have
                    out.write(ascii(exchange == 0 ? "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n"
                            : "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nthanks"));
                    out.flush();
                }
            } catch (IOException e) {
                // the test failed elsewhere
            }
        });
        t.setDaemon(true);
        t.start();
        BlockRunClient client = new BlockRunClient(URI.create("http://127.0.0.1:" + server.getLocalPort()), 2000);
        byte[] json = ascii("{\"a\":1}xyz");
        BlockRunClient.Text first = client.call("PUT", "/x", "secret", "application/json", "application/json", json, 7, 2000, 100);
        assertEquals(204, first.status());
        assertEquals("", first.body());
        assertTrue(requests.contains("Content-Type: application/json") && requests.contains("Content-Length: 7")
                && requests.contains("body {\"a\":1}"), requests.toString());
        // The 204 ended the first answer, so the connection went back to the pool and the GET reuses it.
        BlockRunClient.Text second = client.call("GET", "/y", "secret", "application/json", null, null, 0, 2000, 100);
        assertEquals(200, second.status());
        assertEquals("thank", second.body()); // exactly Content-Length bytes
    }

    private static String readLine(java.io.DataInputStream in) throws IOException {
        StringBuilder b = new StringBuilder();
        for (int c; (c = in.read()) >= 0 && c != '\n'; ) if (c != '\r') b.append((char) c);
        return b.toString();
    }

    @Test
    void aCallIsCutAtItsTimeoutEvenWhileItsBodyCannotBeWritten() throws IOException {
        // A server that accepts and then reads nothing: the 64 MiB body fills the socket buffers and the write blocks.
        server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread t = new Thread(() -> {
            try {
                open.add(server.accept());
            } catch (IOException e) {
                // closed by tearDown
            }
        });
        t.setDaemon(true);
        t.start();
        BlockRunClient client = new BlockRunClient(URI.create("http://127.0.0.1:" + server.getLocalPort()), 2000);
        byte[] body = new byte[64 << 20];
        long t0 = System.nanoTime();
        SocketTimeoutException e = assertThrows(SocketTimeoutException.class,
                () -> client.call("POST", "/stuck", "secret", "*/*", "application/octet-stream", body, body.length, 500, 100));
        assertTrue(e.getMessage().contains("within 500 ms") && !e.getMessage().contains("secret"), e.getMessage());
        assertTrue(System.nanoTime() - t0 < 30_000_000_000L, "cut by the watchdog, not by a socket timeout of its own");
    }

    @Test
    void onlyHttpAndHttpsUrls() {
        assertThrows(IllegalArgumentException.class, () -> new BlockRunClient(URI.create("ftp://example.com"), 1000));
        assertDoesNotThrow(() -> new BlockRunClient(URI.create("http://127.0.0.1:1"), 1000));
        assertDoesNotThrow(() -> new BlockRunClient(URI.create("https://cp.example.com"), 1000));
    }
}

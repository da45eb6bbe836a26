package dev.sluice.agent.main;

import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/**
 * {@code --metrics-listen HOST:PORT}: serves {@code GET /metrics} in the Prometheus text format (JDK httpserver,
 * one daemon thread). Any other path is 404. Bind it to 127.0.0.1 unless the network is trusted: it is
 * unauthenticated (it exposes counters only, never the token).
 */
final class MetricsEndpoint implements AutoCloseable {
    private final HttpServer server;

    MetricsEndpoint(InetSocketAddress address, Supplier<String> metrics) throws IOException {
        server = HttpServer.create(address, 16);
        server.createContext("/", ex -> {
            try (ex) {
                boolean ok = ex.getRequestURI().getPath().equals("/metrics") && ex.getRequestMethod().equals("GET");
                byte[] body = (ok ? metrics.get() : "not found\n").getBytes(StandardCharsets.UTF_8);
                ex.getResponseHeaders().set("Content-Type", ok ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain");
                ex.sendResponseHeaders(ok ? 200 : 404, body.length);
                try (OutputStream out = ex.getResponseBody()) {
                    out.write(body);
                }
            }
        });
        server.setExecutor(Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "metrics");
            t.setDaemon(true);
            return t;
        }));
        server.start();
    }

    InetSocketAddress address() {
        return server.getAddress();
    }

    @Override
    public void close() {
        server.stop(0);
    }
}

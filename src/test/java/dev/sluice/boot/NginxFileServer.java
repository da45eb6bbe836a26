package dev.sluice.boot;

import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Test fixture: nginx (Debian's nginx-light) serving a directory with HTTP Range support on {@code 127.0.0.1} and a
 * free port, with everything (config, pid, logs, temp dirs) under a work directory, in the foreground
 * ({@code daemon off}) so that {@link #close} stops exactly the process it started.
 *
 * <p>The access log has one line per request in {@link #LOG_FORMAT}, parsed by {@link #requests}.
 */
public final class NginxFileServer implements AutoCloseable {

    /** Tab-separated: method, URI (with query), status, body bytes, Range header, connection serial, request no. */
    static final String LOG_FORMAT = "$request_method\\t$request_uri\\t$status\\t$body_bytes_sent\\t$http_range"
            + "\\t$connection\\t$connection_requests\\t$http_user_agent";

    /** One line of the access log. */
    public record Request(String method, String uri, int status, long bodyBytes, String range, long connection,
            int requestOnConnection, String userAgent) {

        @Override
        public String toString() {
            return method + " " + uri + " -> " + status + " " + bodyBytes + " B" + (range.isEmpty() ? "" : " " + range)
                    + " (conn " + connection + " #" + requestOnConnection + ")";
        }
    }

    private static final Duration START_TIMEOUT = Duration.ofSeconds(20);

    private final Process process;
    private final int port;
    private final Path accessLog;
    private final Path errorLog;

    private NginxFileServer(Process process, int port, Path accessLog, Path errorLog) {
        this.process = process;
        this.port = port;
        this.accessLog = accessLog;
        this.errorLog = errorLog;
    }

    /** Starts nginx serving {@code root}; its own files go to {@code workDir}. */
    public static NginxFileServer start(Path root, Path workDir) throws IOException, InterruptedException {
        String nginx = Files.isExecutable(Path.of("/usr/sbin/nginx")) ? "/usr/sbin/nginx" : "nginx";
        IOException lastBindFailure = null;
        for (int attempt = 0; attempt < 5; attempt++) { // a free port can be taken between probe and bind
            Path dir = Files.createDirectories(workDir.resolve("nginx-" + attempt));
            int port = freeLoopbackPort();
            Path conf = dir.resolve("nginx.conf");
            Path accessLog = dir.resolve("access.log");
            Path errorLog = dir.resolve("error.log");
            Files.writeString(conf, config(root, dir, port, accessLog, errorLog), StandardCharsets.UTF_8);
            Process process;
            try {
                process = new ProcessBuilder(nginx, "-p", dir.toString(), "-e", errorLog.toString(),
                        "-c", conf.toString())
                        .redirectErrorStream(true)
                        .redirectOutput(dir.resolve("stdout.log").toFile())
                        .start();
            } catch (IOException e) {
                throw new IOException("nginx is not installed (package nginx-light; scripts/setup-debian.sh)", e);
            }
            NginxFileServer server = new NginxFileServer(process, port, accessLog, errorLog);
            try {
                if (server.awaitReady()) {
                    return server;
                }
                lastBindFailure = new IOException("nginx could not bind 127.0.0.1:" + port + ":\n" + server.errors());
            } catch (IOException | InterruptedException | RuntimeException e) {
                server.close();
                throw e;
            }
            server.close();
        }
        throw lastBindFailure;
    }

    private static String config(Path root, Path dir, int port, Path accessLog, Path errorLog) {
        // Run as root (CI, the dev machines) nginx would drop its workers to "nobody", who cannot read a JUnit
        // temp dir: keep the workers as the invoking user.
        String user = "root".equals(System.getProperty("user.name")) ? "user root;\n" : "";
        return user
                + "daemon off;\n"
                + "master_process on;\n"
                + "worker_processes 1;\n"
                + "pid " + dir.resolve("nginx.pid") + ";\n"
                + "error_log " + errorLog + " info;\n"
                + "events { worker_connections 256; }\n"
                + "http {\n"
                + "  default_type application/octet-stream;\n"
                + "  log_format sluice '" + LOG_FORMAT + "';\n"
                + "  access_log " + accessLog + " sluice;\n"
                + "  client_body_temp_path " + dir.resolve("client_body") + ";\n"
                + "  proxy_temp_path " + dir.resolve("proxy") + ";\n"
                + "  fastcgi_temp_path " + dir.resolve("fastcgi") + ";\n"
                + "  uwsgi_temp_path " + dir.resolve("uwsgi") + ";\n"
                + "  scgi_temp_path " + dir.resolve("scgi") + ";\n"
                + "  keepalive_timeout 65;\n"
                + "  server {\n"
                + "    listen 127.0.0.1:" + port + ";\n"
                + "    root " + root.toAbsolutePath() + ";\n"
                + "  }\n"
                + "}\n";
    }

    /** True once nginx answers HTTP; false if it exited (typically: port taken). */
    private boolean awaitReady() throws IOException, InterruptedException {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        URI probe = URI.create("http://127.0.0.1:" + port + "/");
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                return false;
            }
            try {
                HttpURLConnection c = (HttpURLConnection) probe.toURL().openConnection();
                c.setConnectTimeout(500);
                c.setReadTimeout(2000);
                c.getResponseCode();
                c.disconnect();
                Files.writeString(accessLog, ""); // forget the probe (nginx appends; O_APPEND keeps this safe)
                return true;
            } catch (IOException notYet) {
                Thread.sleep(100);
            }
        }
        throw new IllegalStateException("nginx did not answer within " + START_TIMEOUT + ":\n" + errors());
    }

    public int port() {
        return port;
    }

    /** The URL of {@code path} (starting with "/") as seen from the host. */
    public URI url(String path) {
        return URI.create("http://127.0.0.1:" + port + path);
    }

    /** The URL of {@code path} as seen from a QEMU user-mode-network guest (10.0.2.2 is the host's loopback). */
    public String guestUrl(String path) {
        return "http://10.0.2.2:" + port + path;
    }

    private static final Pattern TAB = Pattern.compile("\t");

    /** The requests logged so far. */
    public List<Request> requests() throws IOException {
        return Files.readAllLines(accessLog, StandardCharsets.ISO_8859_1).stream()
                .filter(l -> !l.isBlank())
                .map(l -> {
                    String[] f = TAB.split(l, -1);
                    return new Request(f[0], f[1], Integer.parseInt(f[2]), Long.parseLong(f[3]),
                            "-".equals(f[4]) ? "" : f[4], Long.parseLong(f[5]), Integer.parseInt(f[6]), f[7]);
                })
                .toList();
    }

    private static final Pattern RANGE = Pattern.compile("bytes=(\\d+)-(\\d+)");

    /** Length of a simple {@code bytes=a-b} range, or -1. */
    public static long rangeLength(String range) {
        Matcher m = RANGE.matcher(range);
        return m.matches() ? Long.parseLong(m.group(2)) - Long.parseLong(m.group(1)) + 1 : -1;
    }

    public String errors() {
        try {
            return Files.exists(errorLog) ? Files.readString(errorLog) : "";
        } catch (IOException e) {
            return e.toString();
        }
    }

    private static int freeLoopbackPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** Stops nginx (SIGTERM: fast shutdown; the master takes its worker down) and waits for it. */
    @Override
    public void close() throws InterruptedException {
        if (!process.isAlive()) {
            return;
        }
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }
}

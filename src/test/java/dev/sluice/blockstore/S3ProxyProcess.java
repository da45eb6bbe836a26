package dev.sluice.blockstore;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.HttpURLConnection;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Properties;

/**
 * A real S3-compatible server for tests: S3Proxy (filesystem backend) in a separate JVM on 127.0.0.1 and a free
 * port. Its jar is fetched by Maven into {@code target/s3proxy/s3proxy.jar} (maven-dependency-plugin in the pom),
 * and is deliberately not on the test class path (its dependencies would clash with the application's).
 */
final class S3ProxyProcess implements AutoCloseable {

    static final String IDENTITY = "sluice-test-identity";
    static final String CREDENTIAL = "sluice-test-credential";
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);

    private final Process process;
    private final URI endpoint;
    private final Path log;

    private S3ProxyProcess(Process process, URI endpoint, Path log) {
        this.process = process;
        this.endpoint = endpoint;
        this.log = log;
    }

    /** Starts S3Proxy storing under {@code dataDir} and waits until it answers HTTP. */
    static S3ProxyProcess start(Path dataDir) throws IOException, InterruptedException {
        Path jar = Path.of(System.getProperty("s3proxy.jar", "target/s3proxy/s3proxy.jar")).toAbsolutePath();
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException(jar + " is missing: run the tests through Maven (mvn test), whose "
                    + "process-test-resources phase copies org.gaul:s3proxy:jar-with-dependencies there");
        }
        int port = freeLoopbackPort();
        URI endpoint = URI.create("http://127.0.0.1:" + port);
        Path blobs = Files.createDirectories(dataDir.resolve("blobs"));
        Properties props = new Properties();
        props.setProperty("s3proxy.endpoint", endpoint.toString());
        props.setProperty("s3proxy.authorization", "aws-v2-or-v4");
        props.setProperty("s3proxy.identity", IDENTITY);
        props.setProperty("s3proxy.credential", CREDENTIAL);
        props.setProperty("jclouds.provider", "filesystem");
        props.setProperty("jclouds.filesystem.basedir", blobs.toString());
        Path propsFile = dataDir.resolve("s3proxy.properties");
        try (var out = Files.newOutputStream(propsFile)) {
            props.store(out, "S3Proxy for BlockStore tests");
        }
        Path log = jar.resolveSibling("s3proxy-" + port + ".log");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process process = new ProcessBuilder(List.of(java, "-Xmx512m", "-jar", jar.toString(),
                "--properties", propsFile.toString()))
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        S3ProxyProcess server = new S3ProxyProcess(process, endpoint, log);
        try {
            server.awaitReady();
        } catch (IOException | InterruptedException | RuntimeException e) {
            server.close();
            throw e;
        }
        return server;
    }

    URI endpoint() {
        return endpoint;
    }

    private void awaitReady() throws IOException, InterruptedException {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("S3Proxy exited with " + process.exitValue() + ":\n" + tail());
            }
            try {
                HttpURLConnection c = (HttpURLConnection) endpoint.toURL().openConnection();
                c.setConnectTimeout(500);
                c.setReadTimeout(2000);
                c.getResponseCode(); // any HTTP answer (403 without credentials) means it is serving
                c.disconnect();
                return;
            } catch (IOException notYet) {
                Thread.sleep(200);
            }
        }
        throw new IllegalStateException("S3Proxy did not answer within " + START_TIMEOUT + ":\n" + tail());
    }

    private String tail() {
        try {
            String text = Files.readString(log);
            return text.length() > 4000 ? text.substring(text.length() - 4000) : text;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static int freeLoopbackPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
        }
    }
}

package dev.sluice.agent;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.restassured.path.json.JsonPath;
import io.restassured.specification.RequestSpecification;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 5, acceptance 3: the control plane is killed (SIGKILL) in the middle of a snapshot upload. The control plane
 * runs as a real process from the packaged application (target/quarkus-app, hence a failsafe IT after `package`),
 * against the test database; the real agent uploads to it. While the snapshot is unfinished no snapshot is visible;
 * after the restart the agent's retry completes it without resending a block the server had durably received.
 */
@Tag("slow")
class SnapshotControlPlaneCrashIT {
    static final int BS = 65536;
    static final String BOOTSTRAP = "it-bootstrap-platform-admin-secret";
    static final Path APP = Path.of("target", "quarkus-app", "quarkus-run.jar").toAbsolutePath();

    @TempDir
    Path tmp;

    @Test
    void killingTheControlPlaneMidUploadShowsNoPartialSnapshotAndTheRetryResendsNothing() throws Exception {
        assertTrue(Files.isRegularFile(APP), "build the application first (mvn package): " + APP);
        int port = freePort();
        Path data = tmp.resolve("data");
        ControlPlane cp = ControlPlane.start(port, data, tmp.resolve("cp1.log"));
        try {
            String tenant = as(port, BOOTSTRAP).body(Map.of("name", "it" + System.nanoTime() % 1_000_000_000L)).post("/api/v1/tenants")
                    .then().statusCode(201).extract().path("id");
            String member = as(port, BOOTSTRAP).body(Map.of("name", "m", "role", "tenant-member")).post("/api/v1/tenants/" + tenant + "/tokens")
                    .then().statusCode(201).extract().path("secret");
            byte[] disk = new byte[8 << 20];
            new Random(21).nextBytes(disk);
            String image = as(port, member).body(Map.of("name", "img", "sizeBytes", disk.length, "blockSize", BS)).post("/api/v1/images")
                    .then().statusCode(201).extract().path("id");
            given().baseUri("http://127.0.0.1").port(port).header("Authorization", "Bearer " + member).contentType("application/octet-stream")
                    .body(disk).put("/api/v1/images/" + image + "/content").then().statusCode(200);
            String machine = as(port, member).body(Map.of("name", "m1", "imageId", image)).post("/api/v1/machines").then().statusCode(201).extract().path("id");
            String credential = as(port, member).body(Map.of()).post("/api/v1/machines/" + machine + "/credentials").then().statusCode(201)
                    .extract().path("secret");

            Path agentDir = tmp.resolve("agent");
            try (AgentProcess agent = AgentProcess.start(port, machine, credential, agentDir, "--upload-rate", "0.5")) {
                StringBuilder script = new StringBuilder();
                for (int b = 20; b < 116; b++) {
                    script.append("h.pwrite(b'k' * ").append(BS).append(", ").append((long) b * BS).append(")\n");
                    java.util.Arrays.fill(disk, b * BS, (b + 1) * BS, (byte) 'k');
                }
                script.append("h.flush()\n");
                AgentProcess.Result w = AgentProcess.run(60, "nbdsh", "-u", agent.uri(), "-c", script.toString());
                assertEquals(0, w.exit(), w.output());

                String op = as(port, member).body(Map.of("name", "across-a-crash")).post("/api/v1/machines/" + machine + "/snapshots")
                        .then().statusCode(202).extract().path("id");
                JsonPath progress = await(() -> operation(port, member, op), o -> o.get("progress.blocksSent") != null
                        && o.getLong("progress.blocksSent") > 0, "some blocks received", agent);
                assertTrue(progress.getLong("progress.blocksSent") < 96, progress.prettify());
                assertEquals(0, snapshots(port, member, machine).size(), "nothing is visible before the commit");

                cp.kill();
                long receivedBeforeCrash = -1;
                cp = ControlPlane.start(port, data, tmp.resolve("cp2.log"));
                while (true) {
                    // The commit is one transaction: a visible snapshot implies a finished operation, never less.
                    List<Object> visible = snapshots(port, member, machine);
                    JsonPath o = operation(port, member, op);
                    if (receivedBeforeCrash < 0) {
                        receivedBeforeCrash = o.getLong("progress.blocksSent");
                    }
                    assertTrue(visible.isEmpty() || o.getBoolean("done"), "a snapshot is visible only once committed: " + visible + o.prettify());
                    if (o.getBoolean("done")) {
                        visible = snapshots(port, member, machine); // read before the operation: the commit may lie in between
                        assertEquals(1, visible.size(), visible.toString());
                        assertEquals(96, o.getLong("progress.blocksTotal"));
                        assertEquals(96, o.getLong("progress.blocksSent"));
                        assertEquals(0, o.getLong("progress.blocksResent"),
                                "no block durably received before the crash (" + receivedBeforeCrash + ") was sent again: " + o.prettify());
                        assertEquals(96L * (45 + BS), o.getLong("progress.bytesSent"), o.prettify());
                        byte[] snap = given().baseUri("http://127.0.0.1").port(port).header("Authorization", "Bearer " + member)
                                .get("/api/v1/images/" + o.getString("result.imageId") + "/disk").then().statusCode(200).extract().asByteArray();
                        assertArrayEquals(disk, snap, "the snapshot holds the cut");
                        break;
                    }
                    Thread.sleep(100);
                }
                assertTrue(receivedBeforeCrash > 0 && receivedBeforeCrash < 96, "the crash came mid-upload: " + receivedBeforeCrash + " of 96 recorded");
                String status = agent.status();
                long deadline = System.nanoTime() + 30_000_000_000L;
                while (!status.contains("\"dirtyByTarget\":[0,") && System.nanoTime() < deadline) {
                    Thread.sleep(100);
                    status = agent.status();
                }
                assertTrue(status.contains("\"dirtyByTarget\":[0,96]"), "acknowledged: the repository's bits are clear, target 1 keeps its own: " + status);
            }
        } finally {
            cp.kill();
        }
    }

    private static JsonPath operation(int port, String token, String op) {
        return as(port, token).get("/api/v1/operations/" + op).then().statusCode(200).extract().jsonPath();
    }

    private static List<Object> snapshots(int port, String token, String machine) {
        return as(port, token).get("/api/v1/snapshots?machineId=" + machine).then().statusCode(200).extract().path("items");
    }

    private static RequestSpecification as(int port, String token) {
        return given().baseUri("http://127.0.0.1").port(port).header("Authorization", "Bearer " + token).contentType("application/json");
    }

    private static JsonPath await(java.util.function.Supplier<JsonPath> get, java.util.function.Predicate<JsonPath> until, String what,
                                  AgentProcess agent) throws Exception {
        long deadline = System.nanoTime() + 120_000_000_000L;
        while (true) {
            JsonPath v = get.get();
            if (until.test(v)) {
                return v;
            }
            if (System.nanoTime() > deadline) {
                fail("never got " + what + ": " + v.prettify() + agent.log());
            }
            Thread.sleep(50);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** The packaged control plane as a process on 127.0.0.1:port, against the test database. */
    static final class ControlPlane {
        private final Process process;

        private ControlPlane(Process process) {
            this.process = process;
        }

        static ControlPlane start(int port, Path data, Path log) throws Exception {
            ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx512m", "-jar", APP.toString())
                    .redirectErrorStream(true).redirectOutput(log.toFile());
            Map<String, String> env = pb.environment();
            env.put("SLUICE_DB_URL", System.getenv().getOrDefault("SLUICE_TEST_DB_URL", "jdbc:postgresql://127.0.0.1:5432/sluice_test"));
            env.put("SLUICE_DB_USER", System.getenv().getOrDefault("SLUICE_TEST_DB_USER", "sluice"));
            env.put("SLUICE_DB_PASSWORD", System.getenv().getOrDefault("SLUICE_TEST_DB_PASSWORD", "sluice"));
            env.put("SLUICE_HTTP_HOST", "127.0.0.1");
            env.put("SLUICE_HTTP_PORT", Integer.toString(port));
            env.put("SLUICE_DATA_DIR", data.toString());
            env.put("SLUICE_BOOTSTRAP_TOKEN", BOOTSTRAP);
            env.put("SLUICE_GC_INTERVAL", "PT0S");
            ControlPlane cp = new ControlPlane(pb.start());
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (true) {
                if (!cp.process.isAlive()) {
                    throw new IOException("the control plane exited: " + Files.readString(log, StandardCharsets.UTF_8));
                }
                try {
                    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/q/health/ready")).build(),
                            HttpResponse.BodyHandlers.ofString());
                    if (r.statusCode() == 200) {
                        return cp;
                    }
                } catch (IOException notYet) {
                    // not listening yet
                }
                if (System.nanoTime() > deadline) {
                    throw new IOException("the control plane did not start: " + Files.readString(log, StandardCharsets.UTF_8));
                }
                Thread.sleep(100);
            }
        }

        /** SIGKILL. */
        void kill() throws InterruptedException {
            process.destroyForcibly();
            process.waitFor(20, TimeUnit.SECONDS);
        }
    }
}

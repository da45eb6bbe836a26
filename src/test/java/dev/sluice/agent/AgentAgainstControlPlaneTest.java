package dev.sluice.agent;

import static dev.sluice.api.Api.as;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.api.Api;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.restassured.path.json.JsonPath;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real agent jar against the real control plane: an image uploaded through the content endpoint, a machine and
 * its machine credential, and the agent serving the machine's disk over NBD to real clients (nbdcopy, nbdinfo,
 * nbdsh, qemu-img). Needs agent/target/sluice-agent.jar (scripts/test-all.sh builds it first).
 */
@QuarkusTest
@Tag("slow")
class AgentAgainstControlPlaneTest {
    static final int BS = 65536;
    static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @TempDir
    Path tmp;
    Api.Tenant tenant;
    int port;

    @BeforeEach
    void setUp() {
        AgentProcess.jar();
        tenant = Api.Tenant.create();
        port = RestAssured.port;
    }

    /** An uploaded image, a machine that boots it, and that machine's credential. */
    record Machine(String imageId, String id, String credential, TestImage image) {
    }

    @Test
    void aGibImageReadsBackIdenticallyThroughRealClients() throws Exception {
        Machine m = machineWith(TestImage.create(tmp.resolve("image.raw"), 1L << 30, 1, 16));
        try (AgentProcess agent = AgentProcess.start(port, m.id(), m.credential(), tmp.resolve("agent"))) {
            Path out = tmp.resolve("out.raw");
            AgentProcess.Result copy = AgentProcess.run(600, "nbdcopy", agent.uri(), out.toString());
            assertEquals(0, copy.exit(), copy.output() + agent.log());
            assertEquals(m.image().sha256(), TestImage.sha256(out),
                    "nbdcopy read the image byte for byte; first difference at " + TestImage.firstDifference(m.image().file(), out));
            Files.delete(out);

            AgentProcess.Result map = AgentProcess.run(120, "nbdinfo", "--map", agent.uri());
            assertEquals(0, map.exit(), map.output());
            assertTrue(map.output().contains("data"), "base:allocation reports the allocation: " + map.output());
            assertEquals(1L << 30, mappedLength(map.output(), type -> true), "the map covers the whole disk: " + map.output());

            AgentProcess.Result compare = AgentProcess.run(600, "qemu-img", "compare", "-f", "raw", "-F", "raw",
                    m.image().file().toString(), agent.uri());
            assertEquals(0, compare.exit(), compare.output());
            assertTrue(compare.output().contains("Images are identical"), compare.output());
        }
    }

    @Test
    void writesReadBackAndDirtyExactlyTheWrittenBlocksWhileTheRepositoryKeepsTheImage() throws Exception {
        Machine m = machineWith(TestImage.create(tmp.resolve("image.raw"), 8L << 20, 2, 3));
        byte[] expected = Files.readAllBytes(m.image().file());
        try (AgentProcess agent = AgentProcess.start(port, m.id(), m.credential(), tmp.resolve("agent"), "--prefetch", "off")) {
            // Blocks 10 and 40 are read first (present); every other block written is still absent when written.
            String script = String.join("\n",
                    "h.pread(" + BS + ", " + 10 * BS + ")",
                    "h.pread(" + BS + ", " + 40 * BS + ")",
                    "h.pwrite(b'A' * " + BS + ", " + 3 * BS + ")",                             // aligned, absent block 3
                    "h.pwrite(b'B' * 300, " + (5 * BS + 100) + ")",                            // unaligned inside absent block 5
                    "h.pwrite(b'C' * " + (BS + BS / 2 + 1000) + ", " + (9 * BS + BS / 2) + ")", // spans absent 9, present 10, absent 11
                    "h.pwrite(b'D' * 5000, " + (40 * BS - 2000) + ")",                          // spans absent 39 and present 40
                    "h.zero(" + (BS + 10) + ", " + (20 * BS + 7) + ")",                         // WRITE_ZEROES over blocks 20, 21
                    "h.trim(" + BS + ", " + 30 * BS + ")",                                      // TRIM: accepted, the data stays
                    "h.flush()",
                    "");
            AgentProcess.Result r = AgentProcess.run(120, "nbdsh", "-u", agent.uri(), "-c", script);
            assertEquals(0, r.exit(), r.output() + agent.log());
            java.util.Arrays.fill(expected, 3 * BS, 4 * BS, (byte) 'A');
            java.util.Arrays.fill(expected, 5 * BS + 100, 5 * BS + 400, (byte) 'B');
            java.util.Arrays.fill(expected, 9 * BS + BS / 2, 11 * BS + 1000, (byte) 'C');
            java.util.Arrays.fill(expected, 40 * BS - 2000, 40 * BS + 3000, (byte) 'D');
            java.util.Arrays.fill(expected, 20 * BS + 7, 21 * BS + 17, (byte) 0);

            Set<Long> dirty = Set.of(3L, 5L, 9L, 10L, 11L, 39L, 40L, 20L, 21L);
            AgentProcess.Result map = AgentProcess.run(60, "nbdinfo", "--map=sluice:blocks", agent.uri());
            assertEquals(0, map.exit(), map.output());
            assertEquals(new TreeSet<>(dirty), blocksWith(map.output(), type -> (type & 2) != 0), "dirty blocks: " + map.output());
            Set<Long> present = new TreeSet<>(dirty);
            present.addAll(Set.of(10L, 40L)); // the two reads; TRIM neither fetches nor dirties block 30
            assertEquals(present, blocksWith(map.output(), type -> (type & 1) != 0), "present blocks: " + map.output());

            String status = agent.status();
            assertTrue(status.contains("\"dirty\":" + dirty.size() + "}"), status);
            assertTrue(status.contains("\"present\":" + present.size() + ","), status);

            Path out = tmp.resolve("out.raw");
            AgentProcess.Result copy = AgentProcess.run(120, "nbdcopy", agent.uri(), out.toString());
            assertEquals(0, copy.exit(), copy.output());
            assertArrayEquals(expected, Files.readAllBytes(out), "the disk reads back the image with exactly the writes applied");
            AgentProcess.Result dirtyAfter = AgentProcess.run(60, "nbdinfo", "--map=sluice:blocks", agent.uri());
            assertEquals(new TreeSet<>(dirty), blocksWith(dirtyAfter.output(), type -> (type & 2) != 0), "reads dirty nothing");
        }
        String disk = diskSha256(m.imageId());
        if (!m.image().sha256().equals(disk)) {
            throw new AssertionError("the control plane's disk endpoint does not serve the uploaded image (sha256 " + disk
                    + ", uploaded " + m.image().sha256() + "): " + diagnose(m.imageId(), m.image()));
        }
    }

    @Test
    void prefetchHydratesEveryBlockAndTheControlPlaneShowsIt() throws Exception {
        Machine m = machineWith(TestImage.create(tmp.resolve("image.raw"), 16L << 20, 3, 4));
        long blocks = (16L << 20) / BS;
        assertEquals("registered", machine(m).getString("state"));
        try (AgentProcess agent = AgentProcess.start(port, m.id(), m.credential(), tmp.resolve("agent"), "--prefetch-rate", "0")) {
            JsonPath view = awaitMachine(m, v -> "hydrated".equals(v.getString("hydration.state")), agent);
            assertEquals(blocks, view.getLong("hydration.presentBlocks"));
            assertEquals(blocks, view.getLong("hydration.totalBlocks"));
            assertEquals(0, view.getLong("hydration.dirtyBlocks"));
            assertEquals(16L << 20, view.getLong("hydration.bytesFetched"), "every block fetched once");
            assertEquals("running", view.getString("state"), "the machine runs once its agent reports");
            assertTrue(agent.log().contains("prefetch complete: all " + blocks + " blocks present; prefetch stopped for good"), agent.log());
            String status = agent.status();
            assertTrue(status.contains("\"present\":" + blocks + ","), status);
            assertTrue(status.contains("\"prefetch\":\"complete\""), status);
            Thread.sleep(2500); // prefetch stopped for good: nothing more is fetched
            assertEquals(16L << 20, machine(m).getLong("hydration.bytesFetched"));
        }
    }

    @Test
    void withPrefetchOffOnlyTheBlocksReadAreFetched() throws Exception {
        Machine m = machineWith(TestImage.create(tmp.resolve("image.raw"), 16L << 20, 4, 5));
        try (AgentProcess agent = AgentProcess.start(port, m.id(), m.credential(), tmp.resolve("agent"),
                "--prefetch", "off", "--read-ahead", "0")) {
            String script = "h.pread(100, " + (7 * BS + 5) + ")\nh.pread(" + 2 * BS + ", " + 100 * BS + ")\nh.pread(10, 0)\n";
            AgentProcess.Result r = AgentProcess.run(60, "nbdsh", "-u", agent.uri(), "-c", script);
            assertEquals(0, r.exit(), r.output() + agent.log());
            JsonPath view = awaitMachine(m, v -> v.getLong("hydration.presentBlocks") == 4, agent);
            assertEquals("streaming", view.getString("hydration.state"));
            assertEquals(4L * BS, view.getLong("hydration.bytesFetched"), "blocks 0, 7, 100 and 101: nothing else");
            Thread.sleep(2500);
            String status = agent.status();
            assertTrue(status.contains("\"present\":4,"), status);
            assertTrue(status.contains("\"fetched\":{\"blocks\":4,\"bytes\":" + 4L * BS + "}"), status);
            assertTrue(status.contains("\"prefetch\":\"off\""), status);
            assertEquals(4, machine(m).getLong("hydration.presentBlocks"), "no background fetching");
        }
    }

    // --- fixtures -----------------------------------------------------------------------------------------

    private Machine machineWith(TestImage image) throws IOException, InterruptedException {
        String imageId = as(tenant.member()).body(Map.of("name", Api.unique("img"), "sizeBytes", image.sizeBytes(), "blockSize", BS))
                .post("/api/v1/images").then().statusCode(201).extract().path("id");
        HttpRequest put = HttpRequest.newBuilder(URI.create(base() + "/api/v1/images/" + imageId + "/content"))
                .header("Authorization", "Bearer " + tenant.member()).header("Content-Type", "application/octet-stream")
                .PUT(HttpRequest.BodyPublishers.ofFile(image.file())).build();
        // HTTP/1.1 as curl and the agent speak it (the JDK client would otherwise try an h2c upgrade).
        HttpResponse<String> uploaded = HTTP.send(put, HttpResponse.BodyHandlers.ofString());
        assertEquals(200, uploaded.statusCode(), uploaded.body());
        as(tenant.viewer()).get("/api/v1/images/" + imageId).then().statusCode(200).body("state", org.hamcrest.Matchers.equalTo("available"));
        assertEquals("0 of " + image.sizeBytes() / BS, manifestMismatches(imageId, image),
                "blocks whose manifest digest differs from the uploaded file's");
        String machineId = tenant.machine(imageId);
        String credential = as(tenant.member()).body(Map.of("name", "agent")).post("/api/v1/machines/" + machineId + "/credentials")
                .then().statusCode(201).extract().path("secret");
        Api.SECRETS.add(credential);
        return new Machine(imageId, machineId, credential, image);
    }

    private String base() {
        return "http://127.0.0.1:" + port;
    }

    private JsonPath machine(Machine m) {
        return as(tenant.viewer()).get("/api/v1/machines/" + m.id()).then().statusCode(200).extract().jsonPath();
    }

    private JsonPath awaitMachine(Machine m, Predicate<JsonPath> done, AgentProcess agent) throws Exception {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (true) {
            JsonPath v = machine(m);
            if (v.get("hydration") != null && done.test(v)) {
                return v;
            }
            assertTrue(System.nanoTime() < deadline, "machine never got there: " + v.prettify() + agent.log());
            Thread.sleep(200);
        }
    }

    private String diskSha256(String imageId) throws IOException, InterruptedException {
        HttpRequest get = HttpRequest.newBuilder(URI.create(base() + "/api/v1/images/" + imageId + "/disk"))
                .header("Authorization", "Bearer " + tenant.viewer()).GET().build();
        HttpResponse<InputStream> r = HTTP.send(get, HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, r.statusCode());
        try (InputStream in = r.body()) {
            return TestImage.sha256(in);
        }
    }

    /** Where the repository's disk and manifest differ from the uploaded file, for the failure message. */
    private String diagnose(String imageId, TestImage image) throws IOException, InterruptedException {
        Path disk = tmp.resolve("disk.raw");
        HttpRequest get = HttpRequest.newBuilder(URI.create(base() + "/api/v1/images/" + imageId + "/disk"))
                .header("Authorization", "Bearer " + tenant.viewer()).GET().build();
        HTTP.send(get, HttpResponse.BodyHandlers.ofFile(disk));
        long first = TestImage.firstDifference(image.file(), disk);
        return "a second download of the disk endpoint: " + Files.size(disk) + " bytes, first difference at byte " + first
                + " (block " + (first < 0 ? -1 : first / BS) + "); manifest digests differing from the file's blocks: "
                + manifestMismatches(imageId, image);
    }

    /** "N of TOTAL": how many manifest digests differ from the digests of the file's blocks (and the first one). */
    private String manifestMismatches(String imageId, TestImage image) throws IOException, InterruptedException {
        HttpRequest manifest = HttpRequest.newBuilder(URI.create(base() + "/api/v1/images/" + imageId + "/manifest"))
                .header("Authorization", "Bearer " + tenant.viewer()).GET().build();
        byte[] digests = HTTP.send(manifest, HttpResponse.BodyHandlers.ofByteArray()).body();
        long wrong = 0;
        long firstWrong = -1;
        byte[] block = new byte[BS];
        try (InputStream in = Files.newInputStream(image.file())) {
            for (long i = 0; i < image.sizeBytes() / BS; i++) {
                in.readNBytes(block, 0, BS);
                byte[] expected = java.security.MessageDigest.getInstance("SHA-256").digest(block);
                boolean zero = java.util.Arrays.equals(block, new byte[BS]);
                byte[] got = java.util.Arrays.copyOfRange(digests, (int) (32 * i), (int) (32 * i + 32));
                if (!(zero ? java.util.Arrays.equals(got, new byte[32]) : java.util.Arrays.equals(got, expected))) {
                    wrong++;
                    firstWrong = firstWrong < 0 ? i : firstWrong;
                }
            }
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        return wrong + " of " + digests.length / 32 + (wrong > 0 ? ", the first at block " + firstWrong : "");
    }

    /** nbdinfo --map lines: offset length type [description]. */
    private static long mappedLength(String map, java.util.function.LongPredicate type) {
        long total = 0;
        for (String line : map.strip().split("\n")) {
            String[] f = line.strip().split("\\s+");
            if (type.test(Long.parseLong(f[2]))) {
                total += Long.parseLong(f[1]);
            }
        }
        return total;
    }

    private static Set<Long> blocksWith(String map, java.util.function.LongPredicate type) {
        Set<Long> out = new TreeSet<>();
        for (String line : map.strip().split("\n")) {
            String[] f = line.strip().split("\\s+");
            long offset = Long.parseLong(f[0]);
            long length = Long.parseLong(f[1]);
            if (type.test(Long.parseLong(f[2]))) {
                for (long b = offset / BS; b < (offset + length + BS - 1) / BS; b++) {
                    out.add(b);
                }
            }
        }
        return out;
    }
}

package dev.sluice.agent;

import static dev.sluice.api.Api.as;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.api.Api;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.restassured.path.json.JsonPath;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Snapshots by acknowledged upload, end to end (issue 5): the real agent jar serving a machine's disk over NBD to
 * real writers (nbdsh), the control plane asking it for a snapshot over the command channel, and a second machine
 * booted from the snapshot's image reading it back through another agent.
 */
@QuarkusTest
@Tag("slow")
class SnapshotAgainstControlPlaneTest {
    static final int BS = 65536;
    static final long SIZE = 8L << 20;
    static final int REGION = 64; // the sequence writer's blocks: [REGION_START, REGION_START + REGION)
    static final int REGION_START = 32;
    static final int FRAME_HEADER = 45;
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

    record Machine(String imageId, String id, String credential) {
    }

    @Test
    void aSnapshotTakenWhileTheGuestWritesHoldsExactlyTheCutAndBootsASecondMachine() throws Exception {
        TestImage image = TestImage.create(tmp.resolve("image.raw"), SIZE, 11, 5);
        Machine m = machineFor(upload(image));
        Path writerLog = tmp.resolve("writer.log");
        Path stop = tmp.resolve("writer.stop");
        try (AgentProcess agent = AgentProcess.start(port, m.id(), m.credential(), tmp.resolve("agent"), "--upload-rate", "1")) {
            Process writer = sequenceWriter(agent, writerLog, stop);
            try {
                awaitLog(writerLog, "done", 300, writer);
                long doneBeforeRequest = lastSeq(writerLog, "done");
                String op = requestSnapshot(m, "mid-stream", null);
                JsonPath cutKnown = awaitOperation(op, o -> o.get("progress.blocksTotal") != null, agent);
                long startedAfterCut = lastSeq(writerLog, "start");
                JsonPath done = awaitOperation(op, o -> o.getBoolean("done"), agent);
                assertNull(done.get("error"), done.prettify());
                Files.createFile(stop);
                assertTrue(writer.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), "the writer stops");
                assertEquals(0, writer.exitValue(), Files.readString(tmp.resolve("writer.out")));
                long lastWrite = lastSeq(writerLog, "done");
                assertTrue(lastWrite > startedAfterCut, "the guest kept writing during the upload: " + lastWrite + " vs " + startedAfterCut);

                String snapshotId = done.getString("result.snapshotId");
                JsonPath snapshot = as(tenant.viewer()).get("/api/v1/snapshots/" + snapshotId).then().statusCode(200).extract().jsonPath();
                assertEquals("ready", snapshot.getString("state"));
                assertEquals(m.id(), snapshot.getString("machineId"));
                String snapImage = snapshot.getString("imageId");
                assertEquals(done.getString("result.imageId"), snapImage);

                // A second machine boots the snapshot's image and reads it through its own agent.
                Machine second = machineFor(snapImage);
                byte[] seen;
                try (AgentProcess reader = AgentProcess.start(port, second.id(), second.credential(), tmp.resolve("agent2"))) {
                    Path out = tmp.resolve("snap.raw");
                    AgentProcess.Result copy = AgentProcess.run(120, "nbdcopy", reader.uri(), out.toString());
                    assertEquals(0, copy.exit(), copy.output() + reader.log());
                    seen = Files.readAllBytes(out);
                }
                long cut = 0;
                for (int j = 0; j < REGION; j++) {
                    cut = Math.max(cut, ByteBuffer.wrap(seen, (REGION_START + j) * BS, 8).getLong());
                }
                assertTrue(doneBeforeRequest <= cut && cut <= startedAfterCut, "the cut (write " + cut + ") lies between the last write acknowledged "
                        + "before the request (" + doneBeforeRequest + ") and the first started after the agent froze it (" + startedAfterCut + ")");
                byte[] expected = Files.readAllBytes(image.file());
                applySequence(expected, cut);
                assertArrayEquals(expected, seen, "the snapshot is the disk after exactly writes 1.." + cut + ", block for block");

                // Acknowledged: the repository's dirty bits are clear except for the blocks rewritten after the cut.
                String status = awaitStatus(agent, s -> s.contains("\"snapshotCut\":false"));
                long rewritten = Math.min(REGION, lastWrite - cut);
                assertEquals(rewritten, dirtyOf(status, 0), "dirty after the ack = blocks written after the cut: " + status);
                assertTrue(agent.log().contains("acknowledged as " + snapshotId), agent.log());
            } finally {
                writer.destroyForcibly();
            }
        }
    }

    @Test
    void theNextSnapshotUploadsOnlyTheBlocksWrittenSinceTheLastAcknowledgedOneEvenWhileStreaming() throws Exception {
        TestImage image = TestImage.create(tmp.resolve("image.raw"), SIZE, 12, 5);
        Machine m = machineFor(upload(image));
        byte[] expected = Files.readAllBytes(image.file());
        // Prefetch off: the image is still streaming (most blocks absent) while the snapshots are taken.
        try (AgentProcess agent = AgentProcess.start(port, m.id(), m.credential(), tmp.resolve("agent"), "--prefetch", "off")) {
            write(agent, expected, new long[]{3, 4, 5, 60, 100}, 'a');
            JsonPath first = snapshotAndWait(m, "first", null, agent);
            assertEquals(5, first.getLong("progress.blocksTotal"));
            String status = awaitStatus(agent, s -> s.contains("\"snapshotCut\":false"));
            assertEquals(0, dirtyOf(status, 0), "every block acknowledged and none rewritten: " + status);
            assertDisk(first.getString("result.imageId"), expected);

            write(agent, expected, new long[]{4, 7, 90}, 'b');
            JsonPath second = snapshotAndWait(m, "second", null, agent);
            assertEquals(3, second.getLong("progress.blocksTotal"), second.prettify());
            assertEquals(3, second.getLong("progress.blocksSent"));
            assertEquals(3L * (FRAME_HEADER + BS), second.getLong("progress.bytesSent"), "bytes on the wire: the 3 blocks written since, framed");
            assertEquals(0, second.getLong("progress.blocksResent"));
            assertDisk(second.getString("result.imageId"), expected);
            JsonPath img = as(tenant.viewer()).get("/api/v1/images/" + second.getString("result.imageId")).then().statusCode(200).extract().jsonPath();
            assertEquals(first.getString("result.imageId"), img.getString("parentImageId"), "the parent is the previous snapshot: " + img.prettify());
        }
    }

    @Test
    void anAgentKilledMidUploadResumesTheSameCutWithoutLosingADirtyBit() throws Exception {
        TestImage image = TestImage.create(tmp.resolve("image.raw"), SIZE, 13, 5);
        Machine m = machineFor(upload(image));
        byte[] disk = Files.readAllBytes(image.file());
        long[] all = new long[96];
        for (int i = 0; i < all.length; i++) {
            all[i] = 20 + i;
        }
        Path dir = tmp.resolve("agent");
        String op;
        byte[] atCut;
        AgentProcess agent = AgentProcess.start(port, m.id(), m.credential(), dir, "--upload-rate", "0.5");
        try {
            write(agent, disk, all, 'c');
            atCut = disk.clone();
            op = requestSnapshot(m, "killed", null);
            awaitOperation(op, o -> o.get("progress.blocksSent") != null && o.getLong("progress.blocksSent") > 0, agent);
            // The guest overwrites frozen blocks (some already sent, some not) before the agent dies.
            write(agent, disk, new long[]{20, 21, 90, 110, 115}, 'd');
            JsonPath before = operation(op);
            assertTrue(before.getLong("progress.blocksSent") < all.length, "killed mid-upload: " + before.prettify());
        } finally {
            agent.kill();
        }
        long sentBeforeKill = operation(op).getLong("progress.blocksSent");
        try (AgentProcess restarted = AgentProcess.start(port, m.id(), m.credential(), dir)) {
            JsonPath done = awaitOperation(op, o -> o.getBoolean("done"), restarted);
            assertTrue(restarted.log().contains("resuming the cut of " + op), restarted.log());
            assertEquals(all.length, done.getLong("progress.blocksTotal"));
            assertEquals(all.length, done.getLong("progress.blocksSent"));
            assertEquals(0, done.getLong("progress.blocksResent"), "nothing durably received was sent again (" + sentBeforeKill + " before the kill)");
            assertDisk(done.getString("result.imageId"), atCut);
            String status = awaitStatus(restarted, s -> s.contains("\"snapshotCut\":false"));
            assertEquals(5, dirtyOf(status, 0), "the 5 blocks rewritten after the cut stay dirty: " + status);
            Path out = tmp.resolve("now.raw");
            assertEquals(0, AgentProcess.run(120, "nbdcopy", restarted.uri(), out.toString()).exit());
            assertArrayEquals(disk, Files.readAllBytes(out), "the guest's disk kept every write");
        }
    }

    @Test
    void aLostAcknowledgementIsReconciledWithoutADuplicateSnapshot() throws Exception {
        TestImage image = TestImage.create(tmp.resolve("image.raw"), SIZE, 14, 5);
        Machine m = machineFor(upload(image));
        byte[] disk = Files.readAllBytes(image.file());
        try (AgentProcess agent = AgentProcess.start(port, m.id(), m.credential(), tmp.resolve("agent"),
                Map.of("SLUICE_AGENT_FAULT", "lose-first-ack"))) {
            write(agent, disk, new long[]{1, 2, 3}, 'e');
            JsonPath done = snapshotAndWait(m, "ack-lost", null, agent);
            String status = awaitStatus(agent, s -> s.contains("\"snapshotCut\":false"));
            String log = agent.log();
            assertTrue(log.contains("fault injection: the acknowledgement of"), log);
            assertEquals(1, count(log, "acknowledged as " + done.getString("result.snapshotId")), log);
            assertEquals(0, dirtyOf(status, 0), status);
            List<Object> snapshots = as(tenant.viewer()).get("/api/v1/snapshots?machineId=" + m.id()).then().statusCode(200).extract().path("items");
            assertEquals(1, snapshots.size(), "one snapshot, not two: " + snapshots);
            assertDisk(done.getString("result.imageId"), disk);
        }
    }

    @Test
    void twoTargetsKeepTheirOwnDirtyBitsAndParentChains() throws Exception {
        TestImage image = TestImage.create(tmp.resolve("image.raw"), SIZE, 15, 5);
        Machine m = machineFor(upload(image));
        byte[] disk = Files.readAllBytes(image.file());
        Path dir = tmp.resolve("agent");
        String[] targetB = {"--target", "b=http://127.0.0.1:" + port};
        String imageA1;
        byte[] afterFirst;
        try (AgentProcess agent = AgentProcess.start(port, m.id(), m.credential(), dir, targetB)) {
            write(agent, disk, new long[]{10, 11, 12}, 'f');
            afterFirst = disk.clone();
            JsonPath a1 = snapshotAndWait(m, "a1", null, agent);
            assertEquals(3, a1.getLong("progress.blocksTotal"));
            imageA1 = a1.getString("result.imageId");
            String status = awaitStatus(agent, s -> s.contains("\"snapshotCut\":false"));
            assertEquals(0, dirtyOf(status, 0), status);
            assertEquals(3, dirtyOf(status, 1), "target b has not seen the first writes: " + status);
            write(agent, disk, new long[]{12, 40}, 'g');
            agent.kill();
        }
        // A crash (SIGKILL) in between: both targets' bits come back from the block map.
        try (AgentProcess agent = AgentProcess.start(port, m.id(), m.credential(), dir, targetB)) {
            String status = agent.status();
            assertEquals(2, dirtyOf(status, 0), status);
            assertEquals(4, dirtyOf(status, 1), status);
            JsonPath b1 = snapshotAndWait(m, "b1", "b", agent);
            assertEquals(4, b1.getLong("progress.blocksTotal"), "b receives the union of both write sets: " + b1.prettify());
            assertDisk(b1.getString("result.imageId"), disk);
            assertEquals(m.imageId(), parentOf(b1.getString("result.imageId")), "b's chain starts at the machine's image");
            status = awaitStatus(agent, s -> s.contains("\"snapshotCut\":false"));
            assertEquals(0, dirtyOf(status, 1), status);
            assertEquals(2, dirtyOf(status, 0), status);
            JsonPath a2 = snapshotAndWait(m, "a2", null, agent);
            assertEquals(2, a2.getLong("progress.blocksTotal"), "the repository then gets only the second set: " + a2.prettify());
            assertDisk(a2.getString("result.imageId"), disk);
            assertEquals(imageA1, parentOf(a2.getString("result.imageId")));
            JsonPath snap = as(tenant.viewer()).get("/api/v1/snapshots/" + b1.getString("result.snapshotId")).then().statusCode(200).extract().jsonPath();
            assertEquals("b", snap.getString("target"));
        }
        assertNotNull(afterFirst);
    }

    /**
     * A disk whose size is not a multiple of the block size: its last block is short (1536 bytes of a 64 KiB block).
     * Rewriting it partly, zeroing a whole block (a zero frame) and rewriting another: the snapshot holds exactly that,
     * with the disk's own size, and the next snapshot after one more write to the short block sends only it.
     */
    @Test
    void aDiskWithAShortLastBlockIsSnapshottedExactly() throws Exception {
        long size = 16L * BS + 1536;
        TestImage image = TestImage.create(tmp.resolve("image.raw"), size, 15, 3);
        Machine m = machineFor(upload(image));
        byte[] expected = Files.readAllBytes(image.file());
        assertEquals(size, expected.length);
        try (AgentProcess agent = AgentProcess.start(port, m.id(), m.credential(), tmp.resolve("agent"))) {
            String script = "h.pwrite(b'x' * 1000, " + (16L * BS + 300) + ")\n"
                    + "h.zero(" + BS + ", " + (5L * BS) + ")\n"
                    + "h.pwrite(b'y' * " + BS + ", " + (9L * BS) + ")\n"
                    + "h.flush()\n";
            AgentProcess.Result r = AgentProcess.run(60, "nbdsh", "-u", agent.uri(), "-c", script);
            assertEquals(0, r.exit(), r.output() + agent.log());
            java.util.Arrays.fill(expected, (int) (16L * BS + 300), (int) (16L * BS + 1300), (byte) 'x');
            java.util.Arrays.fill(expected, (int) (5L * BS), (int) (6L * BS), (byte) 0);
            java.util.Arrays.fill(expected, (int) (9L * BS), (int) (10L * BS), (byte) 'y');

            JsonPath first = snapshotAndWait(m, "short-1", null, agent);
            assertEquals(3, first.getLong("progress.blocksTotal"), first.prettify());
            String imageId = first.getString("result.imageId");
            assertEquals(size, ((Number) as(tenant.viewer()).get("/api/v1/images/" + imageId).then().statusCode(200).extract().path("sizeBytes")).longValue());
            assertDisk(imageId, expected);

            r = AgentProcess.run(60, "nbdsh", "-u", agent.uri(), "-c", "h.pwrite(b'z' * 1536, " + (16L * BS) + ")\nh.flush()\n");
            assertEquals(0, r.exit(), r.output() + agent.log());
            java.util.Arrays.fill(expected, (int) (16L * BS), (int) size, (byte) 'z');
            JsonPath second = snapshotAndWait(m, "short-2", null, agent);
            assertEquals(1, second.getLong("progress.blocksTotal"), second.prettify());
            assertEquals(FRAME_HEADER + 1536L, second.getLong("progress.bytesSent"), "one frame of the short block's 1536 bytes");
            assertDisk(second.getString("result.imageId"), expected);
        }
    }

    // --- fixtures -----------------------------------------------------------------------------------------

    private String upload(TestImage image) throws IOException, InterruptedException {
        String imageId = as(tenant.member()).body(Map.of("name", Api.unique("img"), "sizeBytes", image.sizeBytes(), "blockSize", BS))
                .post("/api/v1/images").then().statusCode(201).extract().path("id");
        HttpRequest put = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/v1/images/" + imageId + "/content"))
                .header("Authorization", "Bearer " + tenant.member()).header("Content-Type", "application/octet-stream")
                .PUT(HttpRequest.BodyPublishers.ofFile(image.file())).build();
        HttpResponse<String> uploaded = HTTP.send(put, HttpResponse.BodyHandlers.ofString());
        assertEquals(200, uploaded.statusCode(), uploaded.body());
        return imageId;
    }

    private Machine machineFor(String imageId) {
        String machineId = tenant.machine(imageId);
        String credential = as(tenant.member()).body(Map.of("name", "agent")).post("/api/v1/machines/" + machineId + "/credentials")
                .then().statusCode(201).extract().path("secret");
        Api.SECRETS.add(credential);
        return new Machine(imageId, machineId, credential);
    }

    private String requestSnapshot(Machine m, String name, String target) {
        Map<String, Object> body = target == null ? Map.of("name", name) : Map.of("name", name, "target", target);
        return as(tenant.member()).body(body).post("/api/v1/machines/" + m.id() + "/snapshots")
                .then().statusCode(202).extract().path("id");
    }

    private JsonPath snapshotAndWait(Machine m, String name, String target, AgentProcess agent) throws Exception {
        JsonPath done = awaitOperation(requestSnapshot(m, name, target), o -> o.getBoolean("done"), agent);
        assertNull(done.get("error"), done.prettify());
        return done;
    }

    private JsonPath operation(String op) {
        return as(tenant.viewer()).get("/api/v1/operations/" + op).then().statusCode(200).extract().jsonPath();
    }

    private JsonPath awaitOperation(String op, java.util.function.Predicate<JsonPath> until, AgentProcess agent) throws Exception {
        long deadline = System.nanoTime() + 120_000_000_000L;
        while (true) {
            JsonPath o = operation(op);
            if (until.test(o)) {
                return o;
            }
            assertTrue(System.nanoTime() < deadline, "operation never got there: " + o.prettify() + agent.log());
            Thread.sleep(50);
        }
    }

    private static String awaitStatus(AgentProcess agent, java.util.function.Predicate<String> until) throws Exception {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (true) {
            String s = agent.status();
            if (until.test(s)) {
                return s;
            }
            assertTrue(System.nanoTime() < deadline, "agent status never got there: " + s + agent.log());
            Thread.sleep(100);
        }
    }

    private static long dirtyOf(String status, int target) {
        Matcher mt = Pattern.compile("\"dirtyByTarget\":\\[(\\d+),(\\d+)]").matcher(status);
        assertTrue(mt.find(), status);
        return Long.parseLong(mt.group(target + 1));
    }

    private String parentOf(String imageId) {
        return as(tenant.viewer()).get("/api/v1/images/" + imageId).then().statusCode(200).extract().path("parentImageId");
    }

    /** Writes whole blocks filled with {@code fill} through NBD (then flushes) and applies them to {@code model}. */
    private static void write(AgentProcess agent, byte[] model, long[] blocks, char fill) throws Exception {
        StringBuilder script = new StringBuilder();
        for (long b : blocks) {
            script.append("h.pwrite(b'").append(fill).append("' * ").append(BS).append(", ").append(b * BS).append(")\n");
            java.util.Arrays.fill(model, (int) (b * BS), (int) ((b + 1) * BS), (byte) fill);
        }
        script.append("h.flush()\n");
        AgentProcess.Result r = AgentProcess.run(60, "nbdsh", "-u", agent.uri(), "-c", script.toString());
        assertEquals(0, r.exit(), r.output() + agent.log());
    }

    /** The image's disk endpoint serves exactly {@code expected}. */
    private void assertDisk(String imageId, byte[] expected) throws Exception {
        HttpRequest get = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/v1/images/" + imageId + "/disk"))
                .header("Authorization", "Bearer " + tenant.viewer()).GET().build();
        HttpResponse<byte[]> r = HTTP.send(get, HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, r.statusCode());
        assertArrayEquals(expected, r.body(), "image " + imageId + " holds the expected disk");
    }

    /**
     * nbdsh writing sequence-numbered blocks until {@code stop} exists: write i fills block REGION_START + (7i mod
     * REGION) with the 8-byte big-endian i, logging "start i" before and "done i" after it returned.
     */
    private Process sequenceWriter(AgentProcess agent, Path log, Path stop) throws IOException {
        String script = String.join("\n",
                "import os, struct",
                "log = open('" + log + "', 'a', buffering=1)",
                "i = 0",
                "while not os.path.exists('" + stop + "'):",
                "    i += 1",
                "    log.write('start %d\\n' % i)",
                "    h.pwrite(struct.pack('>Q', i) * " + BS / 8 + ", (" + REGION_START + " + (7 * i) % " + REGION + ") * " + BS + ")",
                "    log.write('done %d\\n' % i)",
                "h.flush()",
                "");
        ProcessBuilder pb = new ProcessBuilder("nbdsh", "-u", agent.uri(), "-c", script).redirectErrorStream(true)
                .redirectOutput(tmp.resolve("writer.out").toFile());
        pb.environment().put("PATH", "/usr/bin:/bin:" + System.getenv().getOrDefault("PATH", ""));
        return pb.start();
    }

    private static void applySequence(byte[] disk, long upTo) {
        for (long i = 1; i <= upTo; i++) {
            int block = REGION_START + (int) ((7 * i) % REGION);
            ByteBuffer b = ByteBuffer.wrap(disk, block * BS, BS);
            for (int k = 0; k < BS / 8; k++) {
                b.putLong(i);
            }
        }
    }

    private static void awaitLog(Path log, String kind, long atLeast, Process writer) throws Exception {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (lastSeq(log, kind) < atLeast) {
            assertTrue(writer.isAlive(), "the writer died");
            assertTrue(System.nanoTime() < deadline, "the writer is too slow");
            Thread.sleep(50);
        }
    }

    /** The highest sequence number logged as {@code kind} (complete lines only). */
    private static long lastSeq(Path log, String kind) throws IOException {
        if (!Files.exists(log)) {
            return 0;
        }
        String text = Files.readString(log);
        int end = text.lastIndexOf('\n');
        long max = 0;
        for (String line : text.substring(0, Math.max(0, end)).split("\n")) {
            if (line.startsWith(kind + " ")) {
                max = Math.max(max, Long.parseLong(line.substring(kind.length() + 1)));
            }
        }
        return max;
    }

    private static int count(String text, String needle) {
        int n = 0;
        for (int i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + 1)) {
            n++;
        }
        return n;
    }
}

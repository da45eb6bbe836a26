package dev.sluice.snapshot;

import static dev.sluice.api.Api.as;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.api.Api;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The snapshot API without an agent: the command channel, the upload protocol (driven here by hand, as an agent
 * would), its checks on every untrusted input, the commit's atomicity and idempotency, and who may do what (issue 5,
 * acceptance 5: another tenant, or another machine's credential, gets 404).
 */
@QuarkusTest
class SnapshotUploadApiTest {
    static final int BS = 65536;
    static final int BLOCKS = 8;

    @jakarta.inject.Inject
    dev.sluice.gc.BlockCollector collector;
    @jakarta.inject.Inject
    dev.sluice.blockstore.BlockStore store;

    Api.Tenant tenant;
    byte[] disk;
    String image;
    String machine;
    String credential;

    @BeforeEach
    void setUp() {
        tenant = Api.Tenant.create();
        disk = new byte[BLOCKS * BS];
        new Random(3).nextBytes(disk);
        image = as(tenant.member()).body(Map.of("name", Api.unique("img"), "sizeBytes", disk.length, "blockSize", BS))
                .post("/api/v1/images").then().statusCode(201).extract().path("id");
        given().header("Authorization", "Bearer " + tenant.member()).contentType("application/octet-stream").body(disk)
                .put("/api/v1/images/" + image + "/content").then().statusCode(200);
        machine = tenant.machine(image);
        credential = credentialFor(machine);
    }

    @Test
    void anUploadedCutCommitsOnceAsAnImageAndARetriedCompleteGetsTheSameAck() throws Exception {
        String op = request(machine, "s1");
        as(tenant.viewer()).get("/api/v1/snapshots?machineId=" + machine).then().statusCode(200).body("items.size()", equalTo(0));
        List<Map<String, Object>> commands = as(credential).get("/api/v1/machines/" + machine + "/commands").then().statusCode(200)
                .extract().path("items");
        assertEquals(1, commands.size(), commands.toString());
        assertEquals(op, commands.get(0).get("operationId"));
        assertEquals(Map.of("name", "s1"), commands.get(0).get("payload"));

        String upload = "/api/v1/machines/" + machine + "/snapshot-uploads/" + op;
        as(credential).body(Map.of("cutBlocks", 3)).put(upload).then().statusCode(200).body("receivedBlocks.size()", equalTo(0));
        byte[] two = block('x');
        sendFrames(upload, frame(2, two, false), frame(5, new byte[BS], true)).then().statusCode(200).body("newToUpload", equalTo(2));
        // Not all of the cut yet: no commit.
        complete(upload, 3, 2, 5, 6).then().statusCode(409);
        assertEquals(List.of(2, 5), as(credential).get(upload).then().statusCode(200).extract().path("receivedBlocks"));
        sendFrames(upload, frame(6, block('y'), false)).then().statusCode(200);
        JsonPath progress = as(tenant.viewer()).get("/api/v1/operations/" + op).then().statusCode(200).extract().jsonPath();
        assertEquals(3, progress.getInt("progress.blocksTotal"));
        assertEquals(3, progress.getInt("progress.blocksSent"));
        assertEquals(3 * 45 + 2 * BS, progress.getInt("progress.bytesSent"), "frames on the wire: headers, and no bytes for a zero block");
        as(tenant.viewer()).get("/api/v1/snapshots?machineId=" + machine).then().statusCode(200).body("items.size()", equalTo(0));

        JsonPath ack = complete(upload, 3, 2, 5, 6).then().statusCode(200).extract().jsonPath();
        JsonPath again = complete(upload, 3, 2, 5, 6).then().statusCode(200).extract().jsonPath();
        assertEquals(ack.getString("snapshotId"), again.getString("snapshotId"), "a retried complete returns the same ack");
        assertEquals(ack.getString("imageId"), again.getString("imageId"));
        as(tenant.viewer()).get("/api/v1/snapshots?machineId=" + machine).then().statusCode(200).body("items.size()", equalTo(1));
        as(tenant.viewer()).get("/api/v1/operations/" + op).then().statusCode(200).body("done", equalTo(true))
                .body("result.snapshotId", equalTo(ack.getString("snapshotId")));
        as(credential).get("/api/v1/machines/" + machine + "/commands").then().statusCode(200).body("items.size()", equalTo(0));
        sendFrames(upload, frame(1, block('z'), false)).then().statusCode(409);

        byte[] expected = disk.clone();
        System.arraycopy(two, 0, expected, 2 * BS, BS);
        Arrays.fill(expected, 5 * BS, 6 * BS, (byte) 0);
        System.arraycopy(block('y'), 0, expected, 6 * BS, BS);
        byte[] got = diskOf(ack.getString("imageId"));
        assertArrayEquals(expected, got, "the snapshot's image = the parent with the uploaded blocks");
        JsonPath img = as(tenant.viewer()).get("/api/v1/images/" + ack.getString("imageId")).then().statusCode(200).extract().jsonPath();
        assertEquals("available", img.getString("state"));
        assertEquals(image, img.getString("parentImageId"));
        // A machine created from the snapshot's image can be served it like any image.
        String next = tenant.machine(ack.getString("imageId"));
        as(credentialFor(next)).get("/api/v1/images/" + ack.getString("imageId") + "/blocks/6").then().statusCode(200);
    }

    @Test
    void aBatchNamingTheCutCommitsWhenItCompletesItAndOnlyThen() throws Exception {
        String op = request(machine, "named");
        String upload = "/api/v1/machines/" + machine + "/snapshot-uploads/" + op;
        as(credential).body(Map.of("cutBlocks", 3)).put(upload).then().statusCode(200);
        Map<String, Object> cut = completeBody(3, 1, 2, 7);
        String named = upload + "/blocks?cutBlocks=3&cutDigest=" + cut.get("cutDigest");
        Map<String, Object> wrong = completeBody(3, 1, 2, 6);

        // Malformed cut parameters: 400 before the body is read, nothing recorded.
        expectProblem(sendFramesTo(upload + "/blocks?cutBlocks=3", frame(1, block('a'), false)), 400, "invalid-parameter");
        expectProblem(sendFramesTo(upload + "/blocks?cutBlocks=-1&cutDigest=" + cut.get("cutDigest"), frame(1, block('a'), false)), 400, "invalid-parameter");
        expectProblem(sendFramesTo(upload + "/blocks?cutBlocks=x&cutDigest=" + cut.get("cutDigest"), frame(1, block('a'), false)), 400, "invalid-parameter");
        expectProblem(sendFramesTo(upload + "/blocks?cutBlocks=3&cutDigest=ABC", frame(1, block('a'), false)), 400, "invalid-parameter");
        assertEquals(List.of(), as(credential).get(upload).then().statusCode(200).extract().path("receivedBlocks"));

        // A batch that does not complete the cut is answered without an acknowledgement.
        sendFramesTo(named, frame(1, block('a'), false), frame(2, block('b'), false)).then().statusCode(200)
                .body("frames", equalTo(2)).body("committed", org.hamcrest.Matchers.nullValue());
        // All blocks, but the batch names another cut (its digest): recorded, not committed.
        sendFramesTo(upload + "/blocks?cutBlocks=3&cutDigest=" + wrong.get("cutDigest"), frame(7, block('c'), false)).then().statusCode(200)
                .body("committed", org.hamcrest.Matchers.nullValue());
        as(tenant.viewer()).get("/api/v1/operations/" + op).then().statusCode(200).body("done", equalTo(false));
        as(tenant.viewer()).get("/api/v1/snapshots?machineId=" + machine).then().statusCode(200).body("items.size()", equalTo(0));

        // The batch that completes the named cut commits it and carries the acknowledgement; complete returns the same.
        JsonPath batch = sendFramesTo(named, frame(7, block('d'), false)).then().statusCode(200)
                .extract().jsonPath();
        String snapshot = batch.getString("committed.snapshotId");
        assertTrue(snapshot != null && snapshot.startsWith("snp_"), batch.prettify());
        assertEquals(op, batch.getString("committed.operationId"));
        assertEquals(3, batch.getInt("committed.cutBlocks"));
        JsonPath ack = complete(upload, 3, 1, 2, 7).then().statusCode(200).extract().jsonPath();
        assertEquals(snapshot, ack.getString("snapshotId"));
        assertEquals(batch.getString("committed.imageId"), ack.getString("imageId"));
        as(tenant.viewer()).get("/api/v1/operations/" + op).then().statusCode(200).body("done", equalTo(true))
                .body("result.snapshotId", equalTo(snapshot)).body("progress.blocksResent", equalTo(1));
        // Committed: a later batch is refused, named or not.
        sendFramesTo(named, frame(1, block('e'), false)).then().statusCode(409);

        byte[] expected = disk.clone();
        System.arraycopy(block('a'), 0, expected, BS, BS);
        System.arraycopy(block('b'), 0, expected, 2 * BS, BS);
        System.arraycopy(block('d'), 0, expected, 7 * BS, BS);
        byte[] got = diskOf(ack.getString("imageId"));
        assertArrayEquals(expected, got, "the parent with the latest frame of each block of the cut");
    }

    @Test
    void aBatchNamingTheCutDeclaresItWithoutThePutAndADeclaredCutIsNotChangedByOne() throws Exception {
        String op = request(machine, "undeclared");
        String upload = "/api/v1/machines/" + machine + "/snapshot-uploads/" + op;
        Map<String, Object> cut = completeBody(2, 3, 4);
        // More blocks than the disk has: refused before the body is read, nothing recorded, nothing declared.
        expectProblem(sendFramesTo(upload + "/blocks?cutBlocks=" + (BLOCKS + 1) + "&cutDigest=" + cut.get("cutDigest"), frame(3, block('a'), false)),
                400, "invalid-parameter");
        as(credential).get(upload).then().statusCode(200).body("cutBlocks", org.hamcrest.Matchers.nullValue());

        // No PUT: the first batch's parameters declare the cut, the progress shows it.
        sendFramesTo(upload + "/blocks?cutBlocks=2&cutDigest=" + cut.get("cutDigest"), frame(3, block('a'), false)).then().statusCode(200)
                .body("committed", org.hamcrest.Matchers.nullValue());
        as(credential).get(upload).then().statusCode(200).body("cutBlocks", equalTo(2)).body("receivedBlocks", equalTo(List.of(3)));
        as(tenant.viewer()).get("/api/v1/operations/" + op).then().statusCode(200)
                .body("progress.phase", equalTo("uploading")).body("progress.blocksTotal", equalTo(2));
        // A batch naming another count does not change the declared cut (the commit refuses it: no acknowledgement).
        sendFramesTo(upload + "/blocks?cutBlocks=1&cutDigest=" + completeBody(1, 4).get("cutDigest"), frame(4, block('b'), false))
                .then().statusCode(200).body("committed", org.hamcrest.Matchers.nullValue());
        as(credential).get(upload).then().statusCode(200).body("cutBlocks", equalTo(2));
        as(credential).body(Map.of("cutBlocks", 1)).put(upload).then().statusCode(409);
        // The declared cut completes as usual.
        JsonPath ack = complete(upload, 2, 3, 4).then().statusCode(200).extract().jsonPath();
        assertTrue(ack.getString("snapshotId").startsWith("snp_"), ack.prettify());
    }

    @Test
    void aBlockSentAgainInALaterBatchCountsOnceTheLatestFrameWinsAndPendingBlocksSurviveCollection() throws Exception {
        String op = request(machine, "resent");
        String upload = "/api/v1/machines/" + machine + "/snapshot-uploads/" + op;
        as(credential).body(Map.of("cutBlocks", 3)).put(upload).then().statusCode(200);
        // Batch 1: blocks 1 and 3. Batch 2: block 3 again (now all zero, as if rewritten before an older server's
        // resend: the latest frame of a block is what the snapshot holds) and block 4.
        sendFrames(upload, frame(1, block('a'), false), frame(3, block('b'), false)).then().statusCode(200).body("frames", equalTo(2));
        sendFrames(upload, frame(3, new byte[BS], true), frame(4, block('c'), false)).then().statusCode(200).body("frames", equalTo(2));
        assertEquals(List.of(1, 3, 4), as(credential).get(upload).then().statusCode(200).extract().path("receivedBlocks"));
        // Received but not committed: block collection must keep the blocks the upload holds.
        dev.sluice.gc.BlockCollector.Result r;
        do {
            r = collector.collect(tenant.id());
        } while (r.skipped());
        String blockA = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(block('a')));
        assertTrue(store.exists(tenant.id(), dev.sluice.blockstore.BlockDigest.fromHex(blockA)), "a received, uncommitted block survives collection: " + r);

        JsonPath ack = complete(upload, 3, 1, 3, 4).then().statusCode(200).extract().jsonPath();
        JsonPath done = as(tenant.viewer()).get("/api/v1/operations/" + op).then().statusCode(200).extract().jsonPath();
        assertEquals(3, done.getInt("progress.blocksSent"), done.prettify());
        assertEquals(1, done.getInt("progress.blocksResent"), done.prettify());
        byte[] expected = disk.clone();
        System.arraycopy(block('a'), 0, expected, BS, BS);
        Arrays.fill(expected, 3 * BS, 4 * BS, (byte) 0);
        System.arraycopy(block('c'), 0, expected, 4 * BS, BS);
        byte[] got = diskOf(ack.getString("imageId"));
        assertArrayEquals(expected, got, "parent + the latest frame of every received block");
    }

    @Test
    void untrustedFramesAreRefusedAndNothingOfSuchARequestIsRecorded() throws Exception {
        String op = request(machine, "bad-frames");
        String upload = "/api/v1/machines/" + machine + "/snapshot-uploads/" + op;
        byte[] wrongDigest = frame(1, block('a'), false);
        wrongDigest[20] ^= 1;
        expectProblem(sendFrames(upload, frame(0, block('b'), false), wrongDigest), 400, "malformed-request");
        expectProblem(sendFrames(upload, frame(BLOCKS, block('c'), false)), 400, "malformed-request");
        expectProblem(sendFrames(upload, frame(-1, block('c'), false)), 400, "malformed-request");
        expectProblem(sendFrames(upload, Arrays.copyOf(frame(1, block('c'), false), 100)), 400, "malformed-request");
        byte[] zeroWithBytes = frame(1, block('c'), false);
        zeroWithBytes[8] = 1;
        expectProblem(sendFrames(upload, zeroWithBytes), 400, "malformed-request");
        assertEquals(List.of(), as(credential).get(upload).then().statusCode(200).extract().path("receivedBlocks"));
        expectProblem(as(credential).body(Map.of("cutBlocks", BLOCKS + 1)).put(upload), 422, "validation");
        expectProblem(as(credential).body(Map.of("cutBlocks", -1)).put(upload), 422, "validation");
        expectProblem(as(credential).body(Map.of("cutBlocks", 1, "cutDigest", "nothex")).post(upload + "/complete"), 422, "validation");
        expectProblem(as(credential).get("/api/v1/machines/" + machine + "/commands?wait=forever"), 400, "invalid-parameter");
        expectProblem(as(credential).get("/api/v1/machines/" + machine + "/commands?wait=PT10M"), 400, "invalid-parameter");
        expectProblem(as(tenant.member()).body(Map.of("name", "Bad Name")).post("/api/v1/machines/" + machine + "/snapshots"), 422, "validation");
        expectProblem(as(tenant.member()).body(Map.of("name", "other")).post("/api/v1/machines/" + machine + "/snapshots"), 409, "conflict");
        expectProblem(as(tenant.member()).body(Map.of("name", "bad-frames", "target", "b")).post("/api/v1/machines/" + machine + "/snapshots"),
                409, "already-exists");
    }

    @Test
    void aCommandIssuedDuringALongPollIsDeliveredToIt() throws Exception {
        CompletableFuture<Response> poll = CompletableFuture.supplyAsync(
                () -> as(credential).get("/api/v1/machines/" + machine + "/commands?wait=PT30S"));
        Thread.sleep(500); // let the poll find nothing first
        String op = request(machine, "while-polling");
        Response r = poll.get();
        assertEquals(200, r.statusCode(), r.asString());
        assertEquals(List.of(op), r.path("items.operationId"));
    }

    @Test
    void anotherTenantOrAnotherMachinesCredentialCannotTriggerOrReachASnapshot() throws Exception {
        String op = request(machine, "private");
        String upload = "/api/v1/machines/" + machine + "/snapshot-uploads/" + op;
        as(credential).body(Map.of("cutBlocks", 1)).put(upload).then().statusCode(200);
        sendFrames(upload, frame(0, block('p'), false)).then().statusCode(200);
        String snapshotId = complete(upload, 1, 0).then().statusCode(200).extract().path("snapshotId");
        String op2 = request(machine, "private-2");
        String upload2 = "/api/v1/machines/" + machine + "/snapshot-uploads/" + op2;

        Api.Tenant other = Api.Tenant.create();
        String otherImage = other.image();
        String otherMachine = other.machine(otherImage);
        String sameTenantMachine = tenant.machine(image);
        for (String stranger : List.of(other.admin(), credentialFor(other, otherMachine), credentialFor(sameTenantMachine))) {
            expectProblem(as(stranger).body(Map.of("name", Api.unique("s"))).post("/api/v1/machines/" + machine + "/snapshots"), 404, "not-found");
            expectProblem(as(stranger).get("/api/v1/machines/" + machine + "/commands"), 404, "not-found");
            expectProblem(as(stranger).get(upload2), 404, "not-found");
            expectProblem(as(stranger).body(Map.of("cutBlocks", 1)).put(upload2), 404, "not-found");
            expectProblem(sendFrames(stranger, upload2, frame(0, block('q'), false)), 404, "not-found");
            expectProblem(as(stranger).body(completeBody(1, 0)).post(upload2 + "/complete"), 404, "not-found");
        }
        // Another machine's credential cannot reach this machine's upload through its own machine either.
        String theirs = credentialFor(sameTenantMachine);
        expectProblem(as(theirs).get("/api/v1/machines/" + sameTenantMachine + "/snapshot-uploads/" + op2), 404, "not-found");
        expectProblem(sendFrames(theirs, "/api/v1/machines/" + sameTenantMachine + "/snapshot-uploads/" + op2, frame(0, block('q'), false)),
                404, "not-found");
        // Another tenant cannot read the snapshot or its operation.
        expectProblem(as(other.admin()).get("/api/v1/snapshots/" + snapshotId), 404, "not-found");
        expectProblem(as(other.admin()).get("/api/v1/operations/" + op), 404, "not-found");
        // A machine credential may not request snapshots or read them, even of its own machine.
        expectProblem(as(credential).body(Map.of("name", Api.unique("s"))).post("/api/v1/machines/" + machine + "/snapshots"), 403, "forbidden");
        expectProblem(as(credential).get("/api/v1/snapshots/" + snapshotId), 403, "forbidden");
        assertEquals(List.of(), as(credential).get(upload2).then().statusCode(200).extract().path("receivedBlocks"), "nothing was recorded");
    }

    // --- helpers ------------------------------------------------------------------------------------------

    private String credentialFor(String machineId) {
        return credentialFor(tenant, machineId);
    }

    private static String credentialFor(Api.Tenant owner, String machineId) {
        String secret = as(owner.member()).body(Map.of()).post("/api/v1/machines/" + machineId + "/credentials").then().statusCode(201)
                .extract().path("secret");
        if (secret == null) {
            throw new AssertionError("no secret");
        }
        Api.SECRETS.add(secret);
        return secret;
    }

    private String request(String machineId, String name) {
        return as(tenant.member()).body(Map.of("name", name)).post("/api/v1/machines/" + machineId + "/snapshots")
                .then().statusCode(202).body("kind", equalTo("snapshot")).body("done", equalTo(false)).extract().path("id");
    }

    private static byte[] block(char c) {
        byte[] b = new byte[BS];
        Arrays.fill(b, (byte) c);
        return b;
    }

    private static byte[] frame(long index, byte[] data, boolean zero) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        DataOutputStream d = new DataOutputStream(out);
        d.writeLong(index);
        d.writeByte(zero ? 1 : 0);
        d.writeInt(zero ? 0 : data.length);
        d.write(MessageDigest.getInstance("SHA-256").digest(data));
        if (!zero) {
            d.write(data);
        }
        return out.toByteArray();
    }

    private Response sendFrames(String path, byte[]... frames) throws IOException {
        return sendFrames(credential, path, frames);
    }

    private static Response sendFrames(String token, String path, byte[]... frames) throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        for (byte[] f : frames) {
            body.write(f);
        }
        return given().header("Authorization", "Bearer " + token).contentType("application/vnd.sluice.blocks").body(body.toByteArray()).post(path + "/blocks");
    }

    /** The image's whole disk, as a viewer reads it. */
    private byte[] diskOf(String imageId) {
        return as(tenant.viewer()).get("/api/v1/images/" + imageId + "/disk").then().statusCode(200).extract().asByteArray();
    }

    /** Frames to a full path (query included), with this test's machine credential. */
    private Response sendFramesTo(String pathAndQuery, byte[]... frames) throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        for (byte[] f : frames) {
            body.write(f);
        }
        return given().header("Authorization", "Bearer " + credential).contentType("application/vnd.sluice.blocks").body(body.toByteArray())
                .urlEncodingEnabled(false).post(pathAndQuery);
    }

    private Response complete(String upload, long count, long... indices) throws Exception {
        return as(credential).body(completeBody(count, indices)).post(upload + "/complete");
    }

    private static Map<String, Object> completeBody(long count, long... indices) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(indices.length * 8);
        for (long i : indices) {
            b.putLong(i);
        }
        return Map.of("cutBlocks", count, "cutDigest", HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b.array())));
    }

    private static void expectProblem(Response r, int status, String type) {
        assertEquals(status, r.statusCode(), r.asString());
        assertTrue(r.contentType().startsWith("application/problem+json"), r.contentType());
        assertEquals("https://sluice.dev/problems/" + type, r.path("type"), r.asString());
    }
}

package dev.sluice.boot;

import static dev.sluice.api.Api.as;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.api.Api;
import dev.sluice.blockstream.SignedUrls;
import io.agroal.api.AgroalDataSource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import java.net.URI;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * The boot endpoint and what hangs off it, against the real control plane and PostgreSQL: the iPXE script for a
 * MAC, the boot-bound signed disk URL whose reads become the boot's read trace, the agent's hand-off and miss
 * reports, the learned profile (and its inheritance by a child image), and the answers to bad input.
 */
@QuarkusTest
class BootEndpointTest {
    static final int BLOCK = 64 * 1024;

    @Inject
    SignedUrls signedUrls;
    @Inject
    AgroalDataSource db;

    record Booted(Api.Tenant tenant, String image, String machine, String mac) {
    }

    @Test
    void aRegisteredMacGetsASanbootOfItsImageBoundToTheMachineAndANewBoot() {
        Booted b = machineWithImage();
        String script = ipxe(b.mac().toUpperCase().replace(':', '-'));
        System.out.println("GET /boot/v1/ipxe?mac=" + b.mac() + " →\n" + script);
        assertTrue(script.startsWith("#!ipxe\n"), script);
        URI disk = sanbootUrl(script);
        assertEquals("/api/v1/images/" + b.image() + "/disk", disk.getPath());
        assertTrue(disk.getQuery().contains("machine=" + b.machine()), script);
        assertTrue(disk.getQuery().matches(".*boot=boot_[0-9a-z]{26}.*"), script);

        assertEquals("booting", as(b.tenant().viewer()).get("/api/v1/machines/" + b.machine()).path("state"));
        List<Map<String, Object>> boots = as(b.tenant().viewer()).get("/api/v1/machines/" + b.machine() + "/boots")
                .then().statusCode(200).extract().path("items");
        assertEquals(1, boots.size());
        assertEquals("remote", boots.get(0).get("phase"));
        assertTrue(disk.getQuery().contains("boot=" + boots.get(0).get("id")));
    }

    @Test
    void readsThroughTheBootUrlAreTracedInFirstTouchOrderAndTheHandoffStartsTheAgentWithThem() {
        Booted b = machineWithImage();
        URI disk = sanbootUrl(ipxe(b.mac()));
        // The boot reads block 0, then blocks 9-10 (one range), then block 0 again (not a first touch), then 3.
        read(disk, "bytes=0-511");
        read(disk, "bytes=" + (9L * BLOCK + 100) + "-" + (10L * BLOCK + 5));
        read(disk, "bytes=0-4095");
        read(disk, "bytes=" + 3L * BLOCK + "-" + (3L * BLOCK + 511));
        eventually(() -> remoteBlocks(b) == 4, () -> "boots: " + boots(b));
        assertEquals(List.of(0, 9, 10, 3), as(b.tenant().viewer()).get("/api/v1/images/" + b.image() + "/boot-profile").path("blocks"));

        String credential = credential(b);
        Response handoff = as(credential).post("/api/v1/machines/" + b.machine() + "/boot-handoff");
        assertEquals(200, handoff.statusCode(), handoff.asString());
        assertEquals(List.of(0, 9, 10, 3), handoff.path("priority"));
        String bootId = handoff.path("bootId");
        assertEquals("running", as(b.tenant().viewer()).get("/api/v1/machines/" + b.machine()).path("state"));
        assertEquals("agent", boots(b).get(0).get("phase"));
        assertTrue(boots(b).get(0).get("handedOffAt") != null);

        // After the hand-off the URL still reads (the firmware may be mid-request) but no longer traces.
        read(disk, "bytes=" + 12L * BLOCK + "-" + (12L * BLOCK + 1));
        // The agent's first-touch misses continue the trace; blocks it already has are not counted twice.
        as(credential).body(Map.of("bootId", bootId, "blocks", List.of(5, 0, 6))).post("/api/v1/machines/" + b.machine() + "/boot-misses")
                .then().statusCode(204);
        assertEquals(2, ((Number) boots(b).get(0).get("agentBlocks")).intValue());
        assertEquals(4, ((Number) boots(b).get(0).get("remoteBlocks")).intValue());
        assertEquals(List.of(0, 9, 10, 3, 5, 6), as(b.tenant().viewer()).get("/api/v1/images/" + b.image() + "/boot-profile").path("blocks"));
    }

    @Test
    void theProfileMergesBootsByMeanFirstTouchPositionAndASecondMachineIsHandedIt() {
        Booted first = machineWithImage();
        String bootA = as(credential(first)).post("/api/v1/machines/" + first.machine() + "/boot-handoff").path("bootId");
        misses(first, bootA, List.of(1, 2, 3, 4));
        String bootB = as(credential(first)).post("/api/v1/machines/" + first.machine() + "/boot-handoff").path("bootId");
        misses(first, bootB, List.of(3, 1, 5));
        // positions: 1 → (0+1)/2, 2 → 1, 3 → (2+0)/2, 4 → 3, 5 → 2
        assertEquals(List.of(1, 2, 3, 5, 4), as(first.tenant().viewer()).get("/api/v1/images/" + first.image() + "/boot-profile").path("blocks"));
        assertEquals(2, (int) as(first.tenant().viewer()).get("/api/v1/images/" + first.image() + "/boot-profile").path("boots"));

        String second = first.tenant().machine(first.image());
        String secondCredential = credentialFor(first.tenant(), second);
        Response handoff = as(secondCredential).post("/api/v1/machines/" + second + "/boot-handoff");
        assertEquals(List.of(1, 2, 3, 5, 4), handoff.path("priority"));
    }

    @Test
    void aChildImageWithoutBootsInheritsItsParentsProfile() throws Exception {
        Booted parent = machineWithImage();
        String boot = as(credential(parent)).post("/api/v1/machines/" + parent.machine() + "/boot-handoff").path("bootId");
        misses(parent, boot, List.of(7, 2));
        String child = uploadedImage(parent.tenant());
        sql("UPDATE images SET parent_image_id = ? WHERE id = ?", parent.image(), child);
        Response profile = as(parent.tenant().viewer()).get("/api/v1/images/" + child + "/boot-profile");
        assertEquals(List.of(7, 2), profile.path("blocks"));
        assertEquals(parent.image(), profile.path("sourceImageId"));
    }

    @Test
    void malformedUnknownAndUnreadyMacsGetAGenericRefusalScript() {
        String malformed = "#!ipxe\necho Sluice: the boot request carries no valid MAC address\nexit 1\n";
        for (String mac : new String[]{null, "", "zz:54:00:12:34:56", "52:54:00:12:34", "52:54:00:12:34:56:78", "52:54:00:12:34:56\necho hi",
                "52%3A54", "x".repeat(1000)}) {
            Response r = mac == null ? given().get("/boot/v1/ipxe") : given().queryParam("mac", mac).get("/boot/v1/ipxe");
            assertEquals(200, r.statusCode(), r.asString());
            assertEquals(malformed, r.asString(), "mac " + mac);
        }
        String nothing = "#!ipxe\necho Sluice: no bootable image is assigned to this network card\nexit 1\n";
        assertEquals(nothing, ipxe(randomMac()), "unknown MAC");
        // A machine whose image has no content yet: the same answer as an unknown MAC, no ids.
        Api.Tenant t = Api.Tenant.create();
        String mac = randomMac();
        as(t.member()).body(Map.of("name", Api.unique("m"), "imageId", t.image(), "mac", mac)).post("/api/v1/machines").then().statusCode(201);
        assertEquals(nothing, ipxe(mac), "machine whose image is not ready");
        assertEquals("registered", as(t.viewer()).get("/api/v1/machines?pageSize=1").path("items[0].state"));
        // A Host header that is not a host never reaches a script.
        Booted b = machineWithImage();
        Response r = given().header("Host", "bad_host:80").queryParam("mac", b.mac()).get("/boot/v1/ipxe");
        assertEquals("#!ipxe\necho Sluice: the boot request carries no usable Host header\nexit 1\n", r.asString());
    }

    @Test
    void aMacBelongsToOneMachineAcrossTenants() {
        Booted a = machineWithImage();
        Api.Tenant other = Api.Tenant.create();
        Response r = as(other.member()).body(Map.of("name", Api.unique("m"), "imageId", other.image(), "mac", a.mac().toUpperCase()))
                .post("/api/v1/machines");
        Api.assertProblem(r, 409, "mac");
        assertFalse(r.asString().contains(a.tenant().id()) || r.asString().contains(a.machine()), r.asString());
    }

    @Test
    void expiredForgedAndRebindingSignaturesAreRefused() {
        Booted b = machineWithImage();
        URI disk = sanbootUrl(ipxe(b.mac()));
        String bootId = disk.getQuery().replaceAll(".*boot=([^&]+).*", "$1");
        String path = disk.getPath();
        String tenant = b.tenant().id();

        long past = Instant.now().getEpochSecond() - 5;
        Response expired = given().get(path + "?" + signedUrls.query(tenant, b.image(), b.machine(), bootId, past));
        Api.assertProblem(expired, 401, null);
        assertEquals("https://sluice.dev/problems/unauthenticated", expired.path("type"));

        // Moving the grant to another machine or boot, or dropping the boot binding, breaks the signature.
        String other = b.tenant().machine(b.image());
        for (String query : new String[]{
                disk.getQuery().replace("machine=" + b.machine(), "machine=" + other),
                disk.getQuery().replace("boot=" + bootId, "boot=boot_00000000000000000000000000"),
                disk.getQuery().replace("&boot=" + bootId, ""),
                disk.getQuery().replace("boot=" + bootId, "boot=not-an-id"),
                disk.getQuery().replaceAll("sig=[^&]+", "sig=AAAA")}) {
            Response r = given().get(path + "?" + query);
            Api.assertProblem(r, 403, null);
            assertEquals("https://sluice.dev/problems/forbidden", r.path("type"));
        }
        Response badExp = given().get(path + "?" + disk.getQuery().replaceAll("exp=[^&]+", "exp=soon"));
        Api.assertProblem(badExp, 400, "exp");
    }

    @Test
    void missReportsAreCheckedAgainstTheBootAndTheImage() {
        Booted b = machineWithImage();
        String credential = credential(b);
        String bootId = as(credential).post("/api/v1/machines/" + b.machine() + "/boot-handoff").path("bootId");
        String url = "/api/v1/machines/" + b.machine() + "/boot-misses";
        Api.assertProblem(as(credential).body(Map.of("bootId", bootId, "blocks", List.of(16))).post(url), 422, "blocks");
        Api.assertProblem(as(credential).body(Map.of("bootId", bootId, "blocks", List.of(-1))).post(url), 422, "blocks");
        Api.assertProblem(as(credential).body(Map.of("bootId", "nope", "blocks", List.of(1))).post(url), 422, "bootId");
        Api.assertProblem(as(credential).body(Map.of("bootId", "boot_00000000000000000000000000", "blocks", List.of(1))).post(url), 422, "bootId");
        Api.assertProblem(as(credential).body(Map.of("bootId", bootId, "blocks", new java.util.ArrayList<>(java.util.Collections.nCopies(4097, 1))))
                .post(url), 422, null);
        Api.assertProblem(as(credential).body(Map.of("bootId", bootId)).post(url), 422, null);
        // Another machine's boot is not this machine's, even in the same tenant.
        Booted other = machineWithImage();
        String otherBoot = as(credential(other)).post("/api/v1/machines/" + other.machine() + "/boot-handoff").path("bootId");
        Api.assertProblem(as(b.tenant().member()).body(Map.of("bootId", otherBoot, "blocks", List.of(1))).post(url), 422, "bootId");
        // A remote boot that was not handed off yet takes no agent misses.
        URI disk = sanbootUrl(ipxe(b.mac()));
        String remote = disk.getQuery().replaceAll(".*boot=([^&]+).*", "$1");
        Api.assertProblem(as(credential).body(Map.of("bootId", remote, "blocks", List.of(1))).post(url), 409, null);
        assertEquals(0, ((Number) boots(b).get(1).get("agentBlocks")).intValue());
    }

    // --- helpers ---

    private Booted machineWithImage() {
        Api.Tenant t = Api.Tenant.create();
        String image = uploadedImage(t);
        String mac = randomMac();
        String machine = as(t.member()).body(Map.of("name", Api.unique("m"), "imageId", image, "mac", mac)).post("/api/v1/machines")
                .then().statusCode(201).extract().path("id");
        return new Booted(t, image, machine, mac);
    }

    private static String uploadedImage(Api.Tenant t) {
        String image = t.image();
        byte[] content = new byte[1 << 20];
        new SecureRandom().nextBytes(content);
        given().header("Authorization", "Bearer " + t.member()).contentType("application/octet-stream").body(content)
                .put("/api/v1/images/" + image + "/content").then().statusCode(200);
        return image;
    }

    static String randomMac() {
        byte[] b = new byte[5];
        new SecureRandom().nextBytes(b);
        return "02:" + HexFormat.ofDelimiter(":").formatHex(b);
    }

    private static String ipxe(String mac) {
        Response r = given().queryParam("mac", mac).get("/boot/v1/ipxe");
        assertEquals(200, r.statusCode(), r.asString());
        assertTrue(r.contentType().startsWith("text/plain"), r.contentType());
        return r.asString();
    }

    private static URI sanbootUrl(String script) {
        String line = script.lines().filter(l -> l.startsWith("sanboot ")).findFirst().orElseThrow(() -> new AssertionError(script));
        return URI.create(line.substring("sanboot ".length()));
    }

    private static void read(URI disk, String range) {
        given().header("Range", range).get(disk.getPath() + "?" + disk.getQuery()).then().statusCode(206);
    }

    private static String credential(Booted b) {
        return credentialFor(b.tenant(), b.machine());
    }

    private static String credentialFor(Api.Tenant t, String machine) {
        String secret = as(t.member()).body(Map.of()).post("/api/v1/machines/" + machine + "/credentials").then().statusCode(201).extract().path("secret");
        Api.SECRETS.add(secret);
        return secret;
    }

    private static void misses(Booted b, String bootId, List<Integer> blocks) {
        as(b.tenant().member()).body(Map.of("bootId", bootId, "blocks", blocks)).post("/api/v1/machines/" + b.machine() + "/boot-misses")
                .then().statusCode(204);
    }

    private static List<Map<String, Object>> boots(Booted b) {
        return as(b.tenant().viewer()).get("/api/v1/machines/" + b.machine() + "/boots").then().statusCode(200).extract().path("items");
    }

    private static int remoteBlocks(Booted b) {
        return ((Number) boots(b).get(0).get("remoteBlocks")).intValue();
    }

    private static void eventually(Supplier<Boolean> condition, Supplier<String> what) {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (!condition.get()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not reached in 20 s: " + what.get());
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }

    private void sql(String statement, Object... args) throws Exception {
        try (Connection c = db.getConnection(); PreparedStatement ps = c.prepareStatement(statement)) {
            for (int i = 0; i < args.length; i++) {
                ps.setObject(i + 1, args[i]);
            }
            ps.executeUpdate();
        }
    }
}

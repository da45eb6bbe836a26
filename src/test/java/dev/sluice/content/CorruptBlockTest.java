package dev.sluice.content;

import static dev.sluice.api.Api.as;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.api.Api;
import dev.sluice.blockstore.CorruptBlockLog;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** A stored block damaged at rest is detected on read, reported (problem, metric, log) and never served. */
@QuarkusTest
class CorruptBlockTest {
    @Inject
    CorruptBlockLog corrupt;

    @Test
    void aCorruptedStoredBlockIsReportedAndNeverServed() throws Exception {
        Api.Tenant tenant = Api.Tenant.create();
        byte[] content = new byte[1 << 20];
        new Random(3).nextBytes(content);
        String image = Disks.createImage(tenant, content.length);
        given().header("Authorization", "Bearer " + tenant.member()).contentType("application/octet-stream").body(content)
                .put("/api/v1/images/" + image + "/content").then().statusCode(200);

        byte[] manifest = as(tenant.viewer()).get("/api/v1/images/" + image + "/manifest").asByteArray();
        byte[] digest = new byte[32];
        ByteBuffer.wrap(manifest, 5 * 32, 32).get(digest);
        String hex = HexFormat.of().formatHex(digest);
        Path file = Path.of("target/test-data/blocks", tenant.id(), hex.substring(0, 2), hex.substring(2, 4), hex);
        assertTrue(Files.exists(file), "block file " + file);
        byte[] stored = Files.readAllBytes(file);
        stored[100] ^= 0x40;
        Files.write(file, stored);
        long before = corrupt.count();

        Response block = as(tenant.viewer()).get("/api/v1/images/" + image + "/blocks/5");
        assertEquals(500, block.statusCode());
        assertEquals("https://sluice.dev/problems/integrity", block.path("type"));
        assertFalse(block.asString().contains(new String(stored, 0, 16, java.nio.charset.StandardCharsets.ISO_8859_1)));
        assertEquals(before + 1, corrupt.count());

        // The disk endpoint refuses the range too (the block is now quarantined: missing, still never served).
        Response range = as(tenant.viewer()).header("Range", "bytes=" + (5 * 65536) + "-" + (5 * 65536 + 511)).get("/api/v1/images/" + image + "/disk");
        assertEquals(500, range.statusCode());
        assertEquals("https://sluice.dev/problems/integrity", range.path("type"));
        // Other blocks are unaffected.
        assertEquals(200, as(tenant.viewer()).get("/api/v1/images/" + image + "/blocks/4").statusCode());

        String metrics = given().get("/q/metrics").asString();
        assertTrue(metrics.lines().anyMatch(l -> l.startsWith("sluice_blocks_corrupt_total") && !l.endsWith(" 0.0")), "metric missing:\n" + metrics.lines().filter(l -> l.contains("sluice")).toList());
        assertTrue(Files.readString(Path.of("target/quarkus-test.log")).contains(hex), "the corrupt block is logged");
    }
}

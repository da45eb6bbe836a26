package dev.sluice.content;

import static dev.sluice.api.Api.as;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.api.Api;
import dev.sluice.gc.BlockCollector;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Deleting an image releases exactly the blocks no other image of the tenant references. */
@QuarkusTest
class GarbageCollectionTest {
    @Inject
    BlockCollector collector;

    @Test
    void deletingAnImageCollectsOnlyItsUnsharedBlocks() throws Exception {
        Api.Tenant tenant = Api.Tenant.create();
        byte[] a = new byte[1 << 20];
        new Random(11).nextBytes(a);
        // b shares its second half (blocks 8-15) with a; its first half is its own.
        byte[] b = a.clone();
        byte[] firstHalfOfB = new byte[8 * 65536];
        new Random(99).nextBytes(firstHalfOfB);
        System.arraycopy(firstHalfOfB, 0, b, 0, firstHalfOfB.length);
        String imageA = upload(tenant, a);
        String imageB = upload(tenant, b);

        Path onlyInA = blockFile(tenant, imageA, 0);
        Path shared = blockFile(tenant, imageA, 12);
        assertEquals(shared, blockFile(tenant, imageB, 12));
        assertTrue(Files.exists(onlyInA) && Files.exists(shared));

        // In use by a machine: not deletable.
        String machine = tenant.machine(imageA);
        assertEquals(409, as(tenant.member()).delete("/api/v1/images/" + imageA).statusCode());
        as(tenant.member()).delete("/api/v1/machines/" + machine).then().statusCode(204);
        as(tenant.member()).delete("/api/v1/images/" + imageA).then().statusCode(204);

        BlockCollector.Result r;
        do {
            r = collector.collect(tenant.id());
        } while (r.skipped());
        assertFalse(Files.exists(onlyInA), "a block only the deleted image used is collected: " + r);
        assertTrue(Files.exists(shared), "a block the other image uses stays: " + r);
        // (The collection the DELETE scheduled may have done the work already.) What remains is exactly image B:
        // 16 data blocks, 1 manifest segment, 1 manifest.
        assertEquals(18, r.scanned() - r.deleted(), r.toString());
        byte[] back = as(tenant.viewer()).get("/api/v1/images/" + imageB + "/disk").asByteArray();
        assertArrayEquals(b, back, "the surviving image is intact");
        // A second round finds nothing more to do.
        do {
            r = collector.collect(tenant.id());
        } while (r.skipped());
        assertEquals(0, r.deleted(), r.toString());
    }

    private static String upload(Api.Tenant tenant, byte[] content) {
        String image = Disks.createImage(tenant, content.length);
        given().header("Authorization", "Bearer " + tenant.member()).contentType("application/octet-stream").body(content)
                .put("/api/v1/images/" + image + "/content").then().statusCode(200);
        return image;
    }

    private static Path blockFile(Api.Tenant tenant, String image, int index) {
        byte[] manifest = as(tenant.viewer()).get("/api/v1/images/" + image + "/manifest").asByteArray();
        String hex = HexFormat.of().formatHex(manifest, index * 32, index * 32 + 32);
        return Path.of("target/test-data/blocks", tenant.id(), hex.substring(0, 2), hex.substring(2, 4), hex);
    }
}

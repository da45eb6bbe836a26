package dev.sluice.content;

import static dev.sluice.api.Api.as;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.api.Api;
import dev.sluice.blockstore.BlockDigest;
import dev.sluice.blockstore.BlockStore;
import dev.sluice.blockstore.CachingBlockStore;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The first disk-read miss of an image warms the whole image into the verified-block cache in the background, and
 * warming caches only bytes read from the store and verified: a block corrupted at rest stays out of the cache and
 * is still refused to readers.
 */
@QuarkusTest
class ImageWarmingTest {
    private static final int BLOCK = 65536;
    private static final int BLOCKS = 48;

    @Inject
    BlockStore store;

    @Test
    void oneSmallReadWarmsTheWholeImageWithVerifiedBytesOnly() throws Exception {
        CachingBlockStore cache = (CachingBlockStore) store;
        Api.Tenant tenant = Api.Tenant.create();
        byte[] content = new byte[BLOCKS * BLOCK];
        new Random(11).nextBytes(content);
        Arrays.fill(content, 7 * BLOCK, 9 * BLOCK, (byte) 0); // zero blocks are synthesized, never cached
        String image = Disks.createImage(tenant, content.length);
        given().header("Authorization", "Bearer " + tenant.member()).contentType("application/octet-stream").body(content)
                .put("/api/v1/images/" + image + "/content").then().statusCode(200);
        List<BlockDigest> digests = digests(tenant, image);
        for (int i = 0; i < BLOCKS; i++) {
            if (digests.get(i) != null) {
                assertNull(cache.peek(tenant.id(), digests.get(i)), "an upload does not fill the cache (block " + i + ")");
            }
        }
        // Damage block 30 at rest before anything reads it.
        String hex = digests.get(30).hex();
        Path file = Path.of("target/test-data/blocks", tenant.id(), hex.substring(0, 2), hex.substring(2, 4), hex);
        byte[] stored = Files.readAllBytes(file);
        stored[1234] ^= 0x01;
        Files.write(file, stored);

        String url = Disks.diskUrl(tenant, image);
        assertEquals(206, given().header("Range", "bytes=0-511").get(url).statusCode());

        // Blocks before the damaged one (the second warming pass starts at block 24) all arrive, verified.
        for (int i = 0; i < 30; i++) {
            if (digests.get(i) == null) {
                continue;
            }
            ByteBuffer cached = awaitCached(cache, tenant.id(), digests.get(i));
            assertNotNull(cached, "block " + i + " was warmed");
            assertEquals(ByteBuffer.wrap(content, i * BLOCK, BLOCK), cached, "block " + i);
        }
        assertNull(cache.peek(tenant.id(), digests.get(30)), "the damaged block was not cached");
        Response damaged = given().header("Range", "bytes=" + (30L * BLOCK) + "-" + (30L * BLOCK + 511)).get(url);
        assertEquals(500, damaged.statusCode());
        assertEquals("https://sluice.dev/problems/integrity", damaged.path("type"));
    }

    /** The block's cached bytes, waiting up to 60 s for the background warming to reach it; null if it never does. */
    private static ByteBuffer awaitCached(CachingBlockStore cache, String tenant, BlockDigest digest) throws InterruptedException {
        for (int attempt = 0; attempt < 600; attempt++) {
            ByteBuffer b = cache.peek(tenant, digest);
            if (b != null) {
                return b;
            }
            Thread.sleep(100);
        }
        return null;
    }

    private static List<BlockDigest> digests(Api.Tenant tenant, String image) {
        byte[] manifest = as(tenant.viewer()).get("/api/v1/images/" + image + "/manifest").asByteArray();
        assertEquals(BLOCKS * BlockDigest.LENGTH, manifest.length);
        List<BlockDigest> out = new ArrayList<>();
        byte[] zero = new byte[BlockDigest.LENGTH];
        for (int i = 0; i < BLOCKS; i++) {
            byte[] d = Arrays.copyOfRange(manifest, i * BlockDigest.LENGTH, (i + 1) * BlockDigest.LENGTH);
            out.add(Arrays.equals(d, zero) ? null : BlockDigest.fromBytes(d));
        }
        assertTrue(out.stream().filter(d -> d == null).count() == 2, "two zero blocks");
        return out;
    }
}

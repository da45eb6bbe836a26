package dev.sluice.content;

import static dev.sluice.api.Api.as;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.sluice.api.Api;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import java.util.Base64;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Range edge cases per RFC 9110, uploads of the wrong length or digest, and signed-URL abuse. */
@QuarkusTest
class ContentBadInputTest {
    static final int SIZE = 1 << 20;

    Api.Tenant tenant;
    byte[] content;
    String image;

    @BeforeEach
    void setUp() {
        tenant = Api.Tenant.create();
        content = new byte[SIZE];
        new Random(7).nextBytes(content);
        image = Disks.createImage(tenant, SIZE);
        upload(image, content, null).then().statusCode(200);
    }

    @Test
    void rangesFollowRfc9110() {
        String disk = "/api/v1/images/" + image + "/disk";
        Response r = as(tenant.viewer()).header("Range", "bytes=100-199").get(disk);
        assertEquals(206, r.statusCode());
        assertEquals("bytes 100-199/" + SIZE, r.header("Content-Range"));
        assertArrayEquals(slice(100, 100), r.asByteArray());
        r = as(tenant.viewer()).header("Range", "bytes=-10").get(disk);
        assertEquals(206, r.statusCode());
        assertArrayEquals(slice(SIZE - 10, 10), r.asByteArray());
        r = as(tenant.viewer()).header("Range", "bytes=" + (SIZE - 5) + "-").get(disk);
        assertArrayEquals(slice(SIZE - 5, 5), r.asByteArray());
        r = as(tenant.viewer()).header("Range", "bytes=1000-999999999").get(disk);
        assertEquals(206, r.statusCode(), "a last-byte-pos past the end is clamped");
        assertEquals(SIZE - 1000, r.asByteArray().length);
        // Unsatisfiable: 416 with the current length.
        for (String past : new String[]{"bytes=" + SIZE + "-", "bytes=" + (SIZE + 5) + "-" + (SIZE + 10), "bytes=-0", "bytes=99999999999999999999-"}) {
            r = as(tenant.viewer()).header("Range", past).get(disk);
            assertEquals(416, r.statusCode(), past);
            assertEquals("bytes */" + SIZE, r.header("Content-Range"), past);
        }
        // Malformed, other units, several ranges: ignored, the whole disk (200).
        for (String ignored : new String[]{"bytes=abc", "bytes=5-1", "items=0-5", "bytes=0-1,5-6", "bytes"}) {
            r = as(tenant.viewer()).header("Range", ignored).get(disk);
            assertEquals(200, r.statusCode(), ignored);
            assertEquals(SIZE, r.asByteArray().length, ignored);
        }
        // If-Range with a stale validator: the whole representation.
        r = as(tenant.viewer()).header("Range", "bytes=0-9").header("If-Range", "\"stale\"").get(disk);
        assertEquals(200, r.statusCode());
        String etag = as(tenant.viewer()).head(disk).header("ETag");
        r = as(tenant.viewer()).header("Range", "bytes=0-9").header("If-Range", etag).get(disk);
        assertEquals(206, r.statusCode());
        Response head = as(tenant.viewer()).head(disk);
        assertEquals(String.valueOf(SIZE), head.header("Content-Length"));
        assertEquals("bytes", head.header("Accept-Ranges"));
    }

    @Test
    void uploadsOfTheWrongSizeOrDigestKeepNothing() {
        String fresh = Disks.createImage(tenant, SIZE);
        byte[] longer = new byte[SIZE + 4096];
        byte[] shorter = new byte[SIZE - 4096];
        assertProblem(upload(fresh, longer, null), 400, "Content-Length");
        assertProblem(upload(fresh, shorter, null), 400, "Content-Length");
        // Declared digest of other bytes: rejected after streaming, progress rolled back.
        byte[] other = content.clone();
        other[12345] ^= 1;
        assertProblem(upload(fresh, content, sha256(other)), 400, "Content-Digest");
        Response status = as(tenant.viewer()).get("/api/v1/images/" + fresh + "/content");
        assertEquals(0, status.<Number>path("receivedBytes").longValue(), status.asString());
        assertEquals("uploading", status.path("state"));
        // Parts: misaligned, past the end, and leaving a gap.
        assertProblem(upload(fresh, new byte[1000], null, "bytes 0-999/" + SIZE), 400, "Content-Range");
        assertProblem(upload(fresh, new byte[65536], null, "bytes 65536-131071/" + SIZE), 409, null);
        assertProblem(upload(fresh, new byte[65536], null, "bytes 0-65535/" + (SIZE * 2L)), 400, "Content-Range");
        assertProblem(upload(fresh, new byte[65536], null, "bytes 0-x/" + SIZE), 400, "Content-Range");
        // With the right digest the same upload succeeds, and a complete image refuses more content.
        upload(fresh, content, sha256(content)).then().statusCode(200);
        assertProblem(upload(fresh, content, null), 409, null);
    }

    @Test
    void signedUrlsExpireAndCannotBeForgedOrMoved() {
        String url = Disks.diskUrl(tenant, image).replace(Disks.baseUrl(), "");
        assertEquals(200, given().get(url).statusCode());
        String exp = url.replaceAll(".*exp=(\\d+).*", "$1");
        String sig = url.replaceAll(".*sig=([^&]+).*", "$1");
        // Forged: the same signature with a later expiry, another image, or garbage.
        assertEquals(403, given().get(url.replace("exp=" + exp, "exp=" + (Long.parseLong(exp) + 3600))).statusCode());
        String other = Disks.createImage(tenant, SIZE);
        upload(other, content, null).then().statusCode(200);
        assertEquals(403, given().get("/api/v1/images/" + other + "/disk?exp=" + exp + "&sig=" + sig).statusCode());
        assertEquals(403, given().get(url.replace(sig, "AAAA")).statusCode());
        // Expired: a correctly signed URL whose time has passed (minted with a 3 s TTL), even though it was used (and
        // its signature verified and remembered) while it was valid.
        String shortLived = as(tenant.viewer()).body(java.util.Map.of("ttlSeconds", 3)).post("/api/v1/images/" + image + "/disk-url").path("url");
        assertEquals(200, given().get(shortLived).statusCode());
        sleep(4100);
        Response expired = given().get(shortLived);
        assertEquals(401, expired.statusCode());
        assertEquals("https://sluice.dev/problems/unauthenticated", expired.path("type"));
        // The signature never grants the block endpoints, which need a credential.
        assertEquals(401, given().get("/api/v1/images/" + image + "/blocks/0?exp=" + exp + "&sig=" + sig).statusCode());
        // Another tenant's image is a 404 whatever the route.
        Api.Tenant stranger = Api.Tenant.create();
        assertEquals(404, as(stranger.viewer()).get("/api/v1/images/" + image + "/disk").statusCode());
        assertEquals(404, as(stranger.viewer()).get("/api/v1/images/" + image + "/blocks/0").statusCode());
    }

    @Test
    void blockEndpointsCheckTheirParametersAndCarryDigests() {
        String base = "/api/v1/images/" + image;
        Response one = as(tenant.viewer()).get(base + "/blocks/3");
        assertEquals(200, one.statusCode());
        assertArrayEquals(slice(3 * 65536, 65536), one.asByteArray());
        assertEquals("sha-256=:" + Base64.getEncoder().encodeToString(sha256Bytes(slice(3 * 65536, 65536))) + ":", one.header("Repr-Digest"));
        assertProblem(as(tenant.viewer()).get(base + "/blocks/16"), 400, "index");
        assertProblem(as(tenant.viewer()).get(base + "/blocks/-1"), 400, "index");
        assertProblem(as(tenant.viewer()).get(base + "/blocks/x"), 400, "index");
        assertProblem(as(tenant.viewer()).get(base + "/blocks?start=0&count=257"), 400, "count");
        assertProblem(as(tenant.viewer()).get(base + "/blocks?start=10&count=7"), 400, "count");
        assertProblem(as(tenant.viewer()).get(base + "/blocks?count=1"), 400, "start");
        Response run = as(tenant.viewer()).get(base + "/blocks?start=14&count=2");
        byte[] frames = run.asByteArray();
        assertEquals(2 * (45 + 65536), frames.length);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(frames);
        assertEquals(14, b.getLong());
        assertEquals(0, b.get());
        assertEquals(65536, b.getInt());
        byte[] digest = new byte[32];
        b.get(digest);
        byte[] data = new byte[65536];
        b.get(data);
        assertArrayEquals(slice(14 * 65536, 65536), data);
        assertArrayEquals(sha256Bytes(data), digest);
        Response manifest = as(tenant.viewer()).get(base + "/manifest");
        assertEquals(16 * 32, manifest.asByteArray().length);
        assertEquals("16", manifest.header("Sluice-Block-Count"));
    }

    private Response upload(String id, byte[] body, String digest) {
        return upload(id, body, digest, null);
    }

    private Response upload(String id, byte[] body, String digest, String range) {
        var spec = given().header("Authorization", "Bearer " + tenant.member()).contentType("application/octet-stream").body(body);
        if (digest != null) {
            spec = spec.header("Content-Digest", "sha-256=:" + digest + ":");
        }
        if (range != null) {
            spec = spec.header("Content-Range", range);
        }
        return spec.put("/api/v1/images/" + id + "/content");
    }

    private byte[] slice(int from, int length) {
        return java.util.Arrays.copyOfRange(content, from, from + length);
    }

    private static String sha256(byte[] b) {
        return Base64.getEncoder().encodeToString(sha256Bytes(b));
    }

    private static byte[] sha256Bytes(byte[] b) {
        try {
            return java.security.MessageDigest.getInstance("SHA-256").digest(b);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    private static void assertArrayEquals(byte[] expected, byte[] actual) {
        org.junit.jupiter.api.Assertions.assertArrayEquals(expected, actual);
    }

    private static void assertProblem(Response r, int status, String field) {
        Api.assertProblem(r, status, field);
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

package dev.sluice.content;

import static dev.sluice.api.Api.as;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.api.Api;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A 256 MiB image of random data with zero regions goes in with curl and comes back, bit for bit, through the
 * disk endpoint with curl and with qemu's HTTP block driver; storage holds only its non-zero unique blocks, and
 * an identical second image adds almost nothing.
 */
@QuarkusTest
@Tag("slow")
class ImageRoundTripTest {
    static final long SIZE = 256L << 20;

    @TempDir
    Path dir;

    @Test
    void uploadDownloadAndDeduplicate() throws Exception {
        Api.Tenant tenant = Api.Tenant.create();
        Path raw = Disks.randomImage(dir, "disk.raw", SIZE, 42);
        String expected = Disks.sha256(raw);

        String image = Disks.createImage(tenant, SIZE);
        String upload = Disks.run(Disks.curl(tenant.member(), "-T", raw.toString(), Disks.baseUrl() + "/api/v1/images/" + image + "/content"));
        assertTrue(upload.contains("\"state\":\"available\""), upload);

        // curl through the disk endpoint: with a bearer token, and with a signed URL.
        Path viaCurl = dir.resolve("curl.raw");
        Disks.run(Disks.curl(tenant.viewer(), "-o", viaCurl.toString(), Disks.baseUrl() + "/api/v1/images/" + image + "/disk"));
        assertEquals(expected, Disks.sha256(viaCurl));
        Files.delete(viaCurl);
        Disks.run(Disks.curl(null, "-o", viaCurl.toString(), Disks.diskUrl(tenant, image)));
        assertEquals(expected, Disks.sha256(viaCurl));
        Files.delete(viaCurl);

        // qemu's HTTP block driver (Range requests) through the signed URL. One coroutine (-m 1): qemu 7.2's curl
        // driver intermittently stalls with parallel requests (seen against nginx too), which would make this flaky.
        Path viaQemu = dir.resolve("qemu.raw");
        String json = "json:{\"file.driver\":\"http\",\"file.url\":\"" + Disks.diskUrl(tenant, image) + "\"}";
        Disks.run(List.of("timeout", "300", "qemu-img", "convert", "-m", "1", "-f", "raw", "-O", "raw", json, viaQemu.toString()));
        assertEquals(expected, Disks.sha256(viaQemu));
        Files.delete(viaQemu);

        // Stored: exactly the non-zero unique blocks (64 KiB each).
        long uniqueNonZero = uniqueNonZeroBlocks(raw, 64 << 10);
        Response view = as(tenant.viewer()).get("/api/v1/images/" + image);
        long stored = view.<Number>path("usage.storedBytes").longValue();
        assertEquals(uniqueNonZero * (64 << 10), stored, view.asString());
        assertEquals(SIZE / 4 / (64 << 10), view.<Number>path("usage.zeroBlocks").longValue());

        // The same content again: under 1% new bytes.
        String second = Disks.createImage(tenant, SIZE);
        Disks.run(Disks.curl(tenant.member(), "-T", raw.toString(), Disks.baseUrl() + "/api/v1/images/" + second + "/content"));
        Response again = as(tenant.viewer()).get("/api/v1/images/" + second);
        long added = again.<Number>path("usage.storedBytes").longValue();
        assertTrue(added < SIZE / 100, "second identical image stored " + added + " new bytes: " + again.asString());
        System.out.printf("round trip: %d MiB image, %d bytes stored (non-zero unique), second copy added %d bytes%n", SIZE >> 20, stored, added);
    }

    private static long uniqueNonZeroBlocks(Path raw, int blockSize) throws Exception {
        Set<String> digests = new HashSet<>();
        byte[] block = new byte[blockSize];
        byte[] zero = new byte[blockSize];
        java.security.MessageDigest sha = java.security.MessageDigest.getInstance("SHA-256");
        try (var in = Files.newInputStream(raw)) {
            while (in.readNBytes(block, 0, blockSize) == blockSize) {
                if (!java.util.Arrays.equals(block, zero)) {
                    digests.add(java.util.HexFormat.of().formatHex(sha.digest(block)));
                }
            }
        }
        return digests.size();
    }
}

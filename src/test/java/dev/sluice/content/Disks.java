package dev.sluice.content;

import static dev.sluice.api.Api.as;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.sluice.api.Api;
import io.restassured.RestAssured;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/** Test fixture: raw disk images on disk, real clients (curl, qemu-img) and the upload API. */
final class Disks {
    private Disks() {
    }

    static String baseUrl() {
        return "http://127.0.0.1:" + RestAssured.port;
    }

    /**
     * A raw image of {@code size} bytes: incompressible random data, with every fourth MiB all zero, and one MiB
     * that repeats the first (a within-image duplicate).
     */
    static Path randomImage(Path dir, String name, long size, long seed) throws IOException {
        Path file = dir.resolve(name);
        Random random = new Random(seed);
        byte[] mib = new byte[1 << 20];
        byte[] first = null;
        try (OutputStream out = Files.newOutputStream(file)) {
            for (long off = 0, i = 0; off < size; off += mib.length, i++) {
                int n = (int) Math.min(mib.length, size - off);
                if (i % 4 == 3) {
                    out.write(new byte[n]);
                    continue;
                }
                if (i == 5 && first != null) {
                    out.write(first, 0, n);
                    continue;
                }
                random.nextBytes(mib);
                if (first == null) {
                    first = mib.clone();
                }
                out.write(mib, 0, n);
            }
        }
        return file;
    }

    static String sha256(Path file) throws Exception {
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        byte[] buf = new byte[1 << 20];
        try (var in = Files.newInputStream(file)) {
            for (int n; (n = in.read(buf)) > 0; ) {
                sha.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    /** Runs a command, returns its stdout; fails the test on a non-zero exit. */
    static String run(List<String> command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(10, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("timed out: " + command);
        }
        assertEquals(0, p.exitValue(), command + " failed:\n" + out);
        return out;
    }

    static List<String> curl(String token, String... args) {
        List<String> c = new ArrayList<>(List.of("curl", "-sS", "--fail-with-body"));
        if (token != null) {
            c.add("-H");
            c.add("Authorization: Bearer " + token);
        }
        c.addAll(List.of(args));
        return c;
    }

    static String createImage(Api.Tenant tenant, long size) {
        return as(tenant.member()).body(Map.of("name", Api.unique("disk"), "sizeBytes", size)).post("/api/v1/images")
                .then().statusCode(201).extract().path("id");
    }

    /** A signed disk URL (absolute). */
    static String diskUrl(Api.Tenant tenant, String imageId) {
        String path = as(tenant.viewer()).body(Map.of("ttlSeconds", 600)).post("/api/v1/images/" + imageId + "/disk-url")
                .then().statusCode(201).extract().path("url");
        return baseUrl() + path;
    }
}

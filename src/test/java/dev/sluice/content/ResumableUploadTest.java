package dev.sluice.content;

import static dev.sluice.api.Api.as;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.api.Api;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.io.TempDir;

/**
 * An upload whose connection is cut at a random point resumes from what the server reports and completes with
 * the right content; progress never overstates what was stored.
 */
@QuarkusTest
class ResumableUploadTest {
    static final long SIZE = 24L << 20;

    @TempDir
    Path dir;

    @RepeatedTest(3)
    void anInterruptedUploadResumesAndCompletes() throws Exception {
        Api.Tenant tenant = Api.Tenant.create();
        Path raw = Disks.randomImage(dir, "disk.raw", SIZE, System.nanoTime());
        String image = Disks.createImage(tenant, SIZE);
        long cut = 1 + new Random().nextLong(SIZE - 2);

        // Send the headers of the whole upload, then only `cut` bytes of the body, then drop the connection.
        try (Socket socket = new Socket("127.0.0.1", RestAssured.port); InputStream in = Files.newInputStream(raw)) {
            OutputStream out = socket.getOutputStream();
            out.write(("PUT /api/v1/images/" + image + "/content HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + tenant.member()
                    + "\r\nContent-Type: application/octet-stream\r\nContent-Length: " + SIZE + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            byte[] buf = new byte[64 << 10];
            long sent = 0;
            while (sent < cut) {
                int n = in.read(buf, 0, (int) Math.min(buf.length, cut - sent));
                out.write(buf, 0, n);
                sent += n;
            }
            out.flush();
            socket.setSoLinger(true, 0);
        }

        long received = awaitStableProgress(tenant, image);
        assertTrue(received <= cut, "server claims " + received + " bytes but only " + cut + " were sent");
        assertEquals(0, received % (64 << 10), "progress is whole blocks");
        assertEquals("uploading", as(tenant.viewer()).get("/api/v1/images/" + image).path("state"));

        // Resume: the rest, as a Content-Range part.
        Path tail = dir.resolve("tail.raw");
        try (var ch = java.nio.channels.FileChannel.open(raw); var outCh = java.nio.channels.FileChannel.open(tail,
                java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE, java.nio.file.StandardOpenOption.TRUNCATE_EXISTING)) {
            ch.transferTo(received, SIZE - received, outCh);
        }
        String done = Disks.run(Disks.curl(tenant.member(), "-T", tail.toString(), "-H",
                "Content-Range: bytes " + received + "-" + (SIZE - 1) + "/" + SIZE, Disks.baseUrl() + "/api/v1/images/" + image + "/content"));
        assertTrue(done.contains("\"state\":\"available\""), done);

        Path back = dir.resolve("back.raw");
        Disks.run(Disks.curl(tenant.viewer(), "-o", back.toString(), Disks.baseUrl() + "/api/v1/images/" + image + "/disk"));
        assertEquals(Disks.sha256(raw), Disks.sha256(back));
        System.out.printf("cut at %d, server had %d, resumed and completed%n", cut, received);
    }

    /** The server records progress as the broken request drains; wait until it stops moving. */
    private static long awaitStableProgress(Api.Tenant tenant, String image) throws InterruptedException {
        long last = -1;
        for (int i = 0; i < 50; i++) {
            long now = as(tenant.viewer()).get("/api/v1/images/" + image + "/content").<Number>path("receivedBytes").longValue();
            if (now == last) {
                return now;
            }
            last = now;
            Thread.sleep(200);
        }
        return last;
    }

}

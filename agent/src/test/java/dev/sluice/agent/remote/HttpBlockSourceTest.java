package dev.sluice.agent.remote;

import dev.sluice.agent.engine.Geometry;
import dev.sluice.agent.fixture.FixtureControlPlane;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** The HTTP client against the test fixture's implementation of docs/block-protocol.md. */
class HttpBlockSourceTest {

    static final int BS = 4096;
    byte[] image;
    Geometry geometry;
    FixtureControlPlane cp;
    final List<String> log = new ArrayList<>();
    final List<Long> delivered = new ArrayList<>();
    byte[] received;

    @BeforeEach
    void setUp() throws IOException {
        image = new byte[300 * BS + 77];
        new Random(4).nextBytes(image);
        Arrays.fill(image, 10 * BS, 20 * BS, (byte) 0);
        Arrays.fill(image, 300 * BS, image.length, (byte) 0); // zero short last block
        geometry = new Geometry(image.length, BS);
        cp = new FixtureControlPlane(image, BS);
        received = new byte[image.length];
    }

    @AfterEach
    void tearDown() {
        cp.close();
    }

    private HttpBlockSource source(String token) {
        return new HttpBlockSource(cp.baseUri(), cp.imageId, token, geometry, Duration.ofSeconds(5), 4, log::add);
    }

    private void fetch(HttpBlockSource s, long start, int count) throws IOException {
        s.fetch(start, count, System.nanoTime() + 10_000_000_000L, (index, data) -> {
            delivered.add(index);
            data.get(received, (int) geometry.blockOffset(index), data.remaining());
        });
    }

    @Test
    void machineDocumentGivesImageAndGeometry() throws IOException {
        MachineInfo m = HttpBlockSource.fetchMachine(cp.baseUri(), cp.machineId, cp.token, Duration.ofSeconds(5));
        assertEquals(cp.imageId, m.imageId());
        assertEquals(geometry, m.geometry());
    }

    @Test
    void fetchesRunsLongerThanTheWireCapIncludingZeroAndShortBlocks() throws IOException {
        fetch(source(cp.token), 0, (int) geometry.blockCount());
        assertArrayEquals(image, received);
        assertEquals(2, cp.runRequests.get(), "301 blocks need two requests of at most 256");
        for (int i = 0; i < delivered.size(); i++) assertEquals(i, delivered.get(i));
    }

    @Test
    void truncatedStreamsKeepVerifiedFramesAndRetryTheRest() throws IOException {
        cp.truncateAfterFrames = 7;
        fetch(source(cp.token), 0, 30);
        assertEquals(30, delivered.size());
        assertEquals(30, delivered.stream().distinct().count(), "no block delivered twice");
        assertArrayEquals(Arrays.copyOf(image, 30 * BS), Arrays.copyOf(received, 30 * BS));
        assertTrue(cp.runRequests.get() >= 5);
    }

    @Test
    void serverErrorsAreRetriedWithBackoff() throws IOException {
        cp.failNextRequests.set(2);
        fetch(source(cp.token), 5, 3);
        assertEquals(List.of(5L, 6L, 7L), delivered);
        assertEquals(2, log.stream().filter(l -> l.contains("retrying")).count(), log.toString());
    }

    @Test
    void aBlockThatFailsItsDigestIsNeverDelivered() {
        cp.corruptBlocks.add(3L);
        IOException e = assertThrows(IOException.class, () -> fetch(source(cp.token), 0, 6));
        assertTrue(e.getMessage().contains("digest mismatch on block 3"), e.getMessage());
        assertEquals(List.of(0L, 1L, 2L), delivered, "blocks before the bad one are kept, the bad one is not");
    }

    @Test
    void wrongTokenIsNotRetried() {
        IOException e = assertThrows(IOException.class, () -> fetch(source("wrong"), 0, 1));
        assertTrue(e.getMessage().contains("401"), e.getMessage());
        assertTrue(log.isEmpty(), "no retries for 401: " + log);
    }

    @Test
    void givesUpAtTheDeadline() {
        cp.failNextRequests.set(1000);
        long start = System.nanoTime();
        HttpBlockSource s = new HttpBlockSource(cp.baseUri(), cp.imageId, cp.token, geometry, Duration.ofSeconds(5), 100, log::add);
        assertThrows(IOException.class, () -> s.fetch(0, 1, System.nanoTime() + 1_000_000_000L, (i, d) -> { }));
        assertTrue(System.nanoTime() - start < 3_000_000_000L, "bounded by the deadline");
    }

    @Test
    void machineDocumentParsing() {
        MachineInfo m = MachineInfo.parse("m", "{\"id\":\"m\",\"imageId\":\"i\",\"extra\":[1,2.5,null,true,{\"a\":\"\\u00e9\"}],"
                + "\"image\":{\"sizeBytes\":1048576,\"blockSize\":65536}}");
        assertEquals(new Geometry(1 << 20, 65536), m.geometry());
        assertThrows(IllegalArgumentException.class, () -> MachineInfo.parse("m", "{\"id\":\"m\",\"imageId\":null}"));
        assertThrows(IllegalArgumentException.class, () -> MachineInfo.parse("m", "{\"imageId\":\"i\",\"image\":{\"sizeBytes\":1,\"blockSize\":3}}"));
        assertThrows(IllegalArgumentException.class, () -> MachineInfo.parse("m", "[" .repeat(100)));
        assertThrows(IllegalArgumentException.class, () -> MachineInfo.parse("m", "{\"imageId\":\"i\"} x"));
    }

    @Test
    void theWarmUpComputesDigestsOfAnyBlockSizeAndTakesTime() {
        assertTrue(HttpBlockSource.warmUp(65536, 3) > 0);
        assertTrue(HttpBlockSource.warmUp(512, 1) > 0, "small blocks are rounded up to a page");
        assertTrue(HttpBlockSource.warmUp(64 << 20, 1) > 0, "large blocks are capped at 1 MiB");
    }
}

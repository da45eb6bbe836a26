package dev.sluice.agent.main;

import com.sun.net.httpserver.HttpServer;
import dev.sluice.agent.engine.BlockEngine;
import dev.sluice.agent.engine.BlockMap;
import dev.sluice.agent.engine.BlockSource;
import dev.sluice.agent.engine.Clock;
import dev.sluice.agent.engine.CutStore;
import dev.sluice.agent.engine.Geometry;
import dev.sluice.agent.local.FileLocalStore;
import dev.sluice.agent.local.FileMapStore;
import dev.sluice.agent.nbd.WriteSplitter;
import dev.sluice.agent.remote.ControlChannel;
import dev.sluice.agent.remote.SnapshotClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Stopping the uploader (SIGTERM: the agent's shutdown hook) while its thread is inside the engine's file I/O must not
 * interrupt that thread: an interrupt in FileChannel I/O closes the channel (FileChannel is interruptible), so the
 * cache file would be closed for the agent's final flush. Real file stores, a stand-in control plane that hands out
 * one snapshot command, and a cut store that holds the freeze until the test has called stop().
 */
class SnapshotUploaderStopTest {
    private static final int BS = 4096;
    private static final int BLOCKS = 16;

    @TempDir
    Path dir;
    private HttpServer server;
    private SnapshotUploader uploader;

    @AfterEach
    void tearDown() {
        if (uploader != null) uploader.stop();
        if (server != null) server.stop(0);
    }

    @Test
    void stopDuringTheFreezeDoesNotInterruptItsFileIoAndTheCacheFileStaysOpen() throws Exception {
        Geometry g = new Geometry((long) BLOCKS * BS, BS);
        FileLocalStore local = new FileLocalStore(dir.resolve("cache"), g.sizeBytes());
        FileMapStore mapStore = FileMapStore.open(dir.resolve("map"));
        BlockSource noFetches = (start, count, deadline, sink) -> {
            throw new IOException("no fetches in this test");
        };
        BlockEngine engine = new BlockEngine(BlockMap.open(g, mapStore), local, noFetches, Clock.SYSTEM, new BlockEngine.Settings(0, 5_000_000_000L));
        byte[] block = new byte[BS];
        java.util.Arrays.fill(block, (byte) 7);
        WriteSplitter.write(engine, 3L * BS, ByteBuffer.wrap(block)); // a whole block: present and dirty, nothing fetched
        engine.flush();

        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/api/v1/machines/mch_1/commands", exchange -> {
            byte[] body = "{\"items\":[{\"id\":\"cmd_1\",\"kind\":\"snapshot\",\"operationId\":\"op_1\",\"payload\":{\"name\":\"s\"}}]}"
                    .getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().add("Content-Type", "application/json");
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        server.start();
        URI base = URI.create("http://127.0.0.1:" + server.getAddress().getPort());

        CountDownLatch inCreate = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicReference<String> seenInCreate = new AtomicReference<>();
        CutStore holding = new CutStore() {
            @Override
            public Stored load() {
                return null;
            }

            @Override
            public void create(String operationId, int target, long[] blocks) {
                inCreate.countDown();
                try {
                    boolean released = release.await(30, TimeUnit.SECONDS);
                    seenInCreate.set(released ? (Thread.currentThread().isInterrupted() ? "interrupt pending" : "no interrupt") : "not released");
                } catch (InterruptedException e) {
                    seenInCreate.set("interrupted");
                }
            }

            @Override
            public void saveCopy(int slot, ByteBuffer data) {
                throw new UnsupportedOperationException();
            }

            @Override
            public void readCopy(int slot, ByteBuffer dst) {
                throw new UnsupportedOperationException();
            }

            @Override
            public void delete() {
            }
        };
        List<String> log = new CopyOnWriteArrayList<>();
        uploader = new SnapshotUploader(engine, holding, new ControlChannel(base, "mch_1", "token"), List.of(),
                List.of(new SnapshotClient(base, "mch_1", "token", Duration.ofSeconds(5))), 0, log::add);
        uploader.start();

        assertTrue(inCreate.await(30, TimeUnit.SECONDS), "the snapshot command never reached the freeze: " + log);
        uploader.stop();
        release.countDown();
        for (int i = 0; i < 300 && seenInCreate.get() == null; i++) Thread.sleep(10);
        assertEquals("no interrupt", seenInCreate.get(), "stop() interrupted the freeze's file I/O; log: " + log);

        // The engine and its files still work after stop(), as the agent's final flush needs them to.
        WriteSplitter.write(engine, 5L * BS, ByteBuffer.wrap(block));
        engine.flush();
        ByteBuffer back = ByteBuffer.allocate(BS);
        engine.read(5L * BS, back);
        assertArrayEquals(block, back.array());
    }
}

package dev.sluice.agent.nbd;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Which requests the connection's own thread serves: a READ of present blocks while nothing else is in flight
 * (no wake-up of a worker per request at QD1), and nothing else. The session's worker pool here runs a task only
 * when the test lets it, so a request that went to it visibly waits.
 */
class InlineReadTest {
    static final int BS = 4096;

    final LinkedBlockingQueue<Runnable> held = new LinkedBlockingQueue<>();
    final ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor();
    final ExecutorService sessionThread = Executors.newSingleThreadExecutor();
    final ExecutorService client = Executors.newSingleThreadExecutor();
    ServerSocketChannel listener;

    @AfterEach
    void stop() throws IOException {
        Runnable r;
        while ((r = held.poll()) != null) r.run();
        client.shutdownNow();
        sessionThread.shutdownNow();
        timers.shutdownNow();
        if (listener != null) listener.close();
    }

    @Test
    void presentReadsAreServedOnTheConnectionThreadAbsentOnesAndOthersGoToTheWorkers() throws Exception {
        byte[] image = new byte[16 * BS];
        new Random(3).nextBytes(image);
        InMemoryExport disk = new InMemoryExport(image, BS);
        disk.engine.ensurePresent(0, 3, false); // blocks 0..3 present, the rest absent
        listener = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        sessionThread.submit(() -> {
            SocketChannel ch = listener.accept();
            new NbdSession(ch, disk.export(), held::add, timers, 10_000, s -> { }).run();
            return null;
        });

        try (TestNbdClient c = TestNbdClient.connect(listener.getLocalAddress(), true)) {
            // Present: answered although no worker ever ran.
            assertArrayEquals(Arrays.copyOfRange(image, 100, 3 * BS), client.submit(() -> c.read(100, 3 * BS - 100)).get(10, TimeUnit.SECONDS));
            assertArrayEquals(Arrays.copyOfRange(image, 0, 4 * BS), client.submit(() -> c.read(0, 4 * BS)).get(10, TimeUnit.SECONDS));
            assertTrue(held.isEmpty(), "a present read went to a worker");

            // Absent (block 5 must be fetched): it waits for a worker, then is answered.
            Future<byte[]> absent = client.submit(() -> c.read(5 * BS, 10));
            assertThrows(TimeoutException.class, () -> absent.get(300, TimeUnit.MILLISECONDS), "an absent read was served inline");
            held.take().run();
            assertArrayEquals(Arrays.copyOfRange(image, 5 * BS, 5 * BS + 10), absent.get(10, TimeUnit.SECONDS));

            // Other commands go to the workers too, whatever the blocks.
            Future<?> flush = client.submit(() -> {
                c.flush();
                return null;
            });
            assertThrows(TimeoutException.class, () -> flush.get(300, TimeUnit.MILLISECONDS), "a flush was served inline");
            held.take().run();
            flush.get(10, TimeUnit.SECONDS);

            // Past the end: the usual error, inline or not, and the connection goes on.
            Future<?> beyond = client.submit(() -> c.read(image.length - 1, 2));
            Runnable task = held.poll(300, TimeUnit.MILLISECONDS);
            if (task != null) task.run();
            Exception e = assertThrows(Exception.class, () -> beyond.get(10, TimeUnit.SECONDS));
            assertInstanceOf(TestNbdClient.NbdError.class, e.getCause());
            assertArrayEquals(Arrays.copyOfRange(image, 0, 10), c.read(0, 10));
            assertTrue(held.isEmpty());
        }
    }
}

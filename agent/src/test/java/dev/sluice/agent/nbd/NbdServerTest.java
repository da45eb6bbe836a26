package dev.sluice.agent.nbd;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static dev.sluice.agent.nbd.Protocol.*;
import static org.junit.jupiter.api.Assertions.*;

/** The NBD server over real sockets (TCP on 127.0.0.1 and a temp unix socket), in process. */
class NbdServerTest {

    static final int BS = 4096;
    @TempDir
    Path tmp;
    byte[] image;
    InMemoryExport disk;
    NbdServer server;
    SocketAddress address;
    final List<String> log = java.util.Collections.synchronizedList(new ArrayList<>());

    @BeforeEach
    void start() throws IOException {
        image = new byte[64 * BS + 1000];
        new Random(5).nextBytes(image);
        disk = new InMemoryExport(image, BS);
        server = NbdServer.tcp(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), disk.export(), 4, log::add);
        address = server.localAddress();
    }

    @AfterEach
    void stop() throws IOException {
        server.close();
    }

    @Test
    void readsAndWritesWithSimpleAndStructuredReplies() throws IOException {
        for (boolean structured : new boolean[]{false, true}) {
            try (TestNbdClient c = TestNbdClient.connect(address, structured)) {
                assertEquals(image.length, c.size);
                int expectedFlags = FLAG_HAS_FLAGS | FLAG_SEND_FLUSH | FLAG_SEND_FUA | FLAG_SEND_TRIM | FLAG_SEND_WRITE_ZEROES
                        | FLAG_CAN_MULTI_CONN | FLAG_SEND_CACHE | (structured ? FLAG_SEND_DF : 0);
                assertEquals(expectedFlags, c.flags);
                assertArrayEquals(Arrays.copyOfRange(image, 100, 9000), c.read(100, 8900));
                byte[] data = new byte[5000];
                new Random(structured ? 1 : 2).nextBytes(data);
                c.write(BS * 3 + 17, data, structured);
                System.arraycopy(data, 0, image, BS * 3 + 17, data.length);
                c.flush();
                assertArrayEquals(Arrays.copyOfRange(image, 0, 20 * BS), c.read(0, 20 * BS));
                assertArrayEquals(Arrays.copyOfRange(image, image.length - 10, image.length), c.read(image.length - 10, 10));
            }
        }
    }

    @Test
    void worksOverAUnixSocketToo() throws IOException {
        Path sock = tmp.resolve("nbd.sock");
        try (NbdServer unix = NbdServer.unix(sock, disk.export(), 2, log::add);
             TestNbdClient c = TestNbdClient.connect(UnixDomainSocketAddress.of(sock), true)) {
            assertArrayEquals(Arrays.copyOfRange(image, 0, 100), c.read(0, 100));
        }
    }

    @Test
    void rangeAndFlagErrorsFollowTheSpec() throws IOException {
        try (TestNbdClient c = TestNbdClient.connect(address, true)) {
            assertEquals(EINVAL, assertThrows(TestNbdClient.NbdError.class, () -> c.read(image.length - 1, 2)).error);
            assertEquals(ENOSPC, assertThrows(TestNbdClient.NbdError.class, () -> c.write(image.length, new byte[1], false)).error);
            assertEquals(ENOSPC, assertThrows(TestNbdClient.NbdError.class, () -> c.write(-1L, new byte[1], false)).error);
            assertEquals(EINVAL, assertThrows(TestNbdClient.NbdError.class, () -> c.read(0, NbdSession.MAX_REQUEST + 1)).error);
            assertEquals(EINVAL, assertThrows(TestNbdClient.NbdError.class, () -> c.command(42, 0, 0, 0)).error);
            assertEquals(EINVAL, assertThrows(TestNbdClient.NbdError.class, () -> c.command(CMD_FLUSH, 0x80, 0, 0)).error);
            assertEquals(EINVAL, assertThrows(TestNbdClient.NbdError.class, () -> c.command(CMD_TRIM, 0, image.length, 1)).error);
            assertEquals(ENOSPC, assertThrows(TestNbdClient.NbdError.class, () -> c.command(CMD_WRITE_ZEROES, 0, image.length - 1, 2)).error);
            assertEquals(EINVAL, assertThrows(TestNbdClient.NbdError.class, () -> c.blockStatus(0, 10)).error,
                    "block status without a negotiated context");
            assertArrayEquals(Arrays.copyOfRange(image, 0, 10), c.read(0, 10), "the connection is still usable");
        }
    }

    @Test
    void writeZeroesTrimAndCache() throws IOException {
        try (TestNbdClient c = TestNbdClient.connect(address, true, SLUICE_BLOCKS)) {
            c.command(CMD_WRITE_ZEROES, CMD_FLAG_NO_HOLE | CMD_FLAG_FUA, 10, 3 * BS);
            assertArrayEquals(new byte[3 * BS], c.read(10, 3 * BS));
            c.command(CMD_TRIM, 0, 0, BS);
            c.command(CMD_CACHE, 0, 40 * BS, 4 * BS);
            assertTrue(disk.engine.map().allPresent(40, 43), "NBD_CMD_CACHE fetches the range");
        }
    }

    @Test
    void sluiceBlocksContextReportsPresentAndDirty() throws IOException {
        try (TestNbdClient c = TestNbdClient.connect(address, true, SLUICE_BLOCKS)) {
            c.read(2 * BS, 1);             // block 2 present, clean
            c.write(5 * BS + 1, new byte[1], false); // block 5 present (fetched), dirty
            List<long[]> s = c.blockStatus(0, 8 * BS);
            List<String> got = s.stream().map(e -> e[0] / BS + "x" + e[1]).toList();
            assertEquals(List.of("2x0", "1x1", "2x0", "1x3", "2x0"), got);
        }
    }

    @Test
    void fetchFailureIsEioAndTheConnectionSurvives() throws IOException {
        try (TestNbdClient c = TestNbdClient.connect(address, true)) {
            disk.repositoryDown = true;
            assertEquals(EIO, assertThrows(TestNbdClient.NbdError.class, () -> c.read(30 * BS, 10)).error);
            assertEquals(EIO, assertThrows(TestNbdClient.NbdError.class, () -> c.write(31 * BS + 5, new byte[3], false)).error,
                    "a partial write to an absent block needs the block first");
            disk.repositoryDown = false;
            assertArrayEquals(Arrays.copyOfRange(image, 30 * BS, 30 * BS + 10), c.read(30 * BS, 10));
        }
    }

    @Test
    void manyConnectionsWithPipelinedRequests() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(4);
        List<Future<?>> jobs = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            int id = t;
            jobs.add(pool.submit(() -> {
                try (SocketChannel ch = SocketChannel.open(address)) {
                    // Raw pipelining: 32 reads sent before any reply is read; replies may come in any order.
                    ch.write(ByteBuffer.wrap(handshakeBytes()));
                    readN(ch, 18 + 20 + 12 + 20 + 14 + 20);
                    ByteBuffer reqs = ByteBuffer.allocate(32 * 28);
                    for (int i = 0; i < 32; i++) reqs.put(NbdCodec.encodeRequest(0, CMD_READ, i, (long) ((i * 7 + id) % 64) * BS, BS));
                    reqs.flip();
                    while (reqs.hasRemaining()) ch.write(reqs);
                    boolean[] seen = new boolean[32];
                    for (int i = 0; i < 32; i++) {
                        ByteBuffer h = readN(ch, 16);
                        assertEquals(SIMPLE_REPLY_MAGIC, h.getInt(0));
                        assertEquals(0, h.getInt(4));
                        int handle = (int) h.getLong(8);
                        assertFalse(seen[handle]);
                        seen[handle] = true;
                        int off = ((handle * 7 + id) % 64) * BS;
                        assertArrayEquals(Arrays.copyOfRange(image, off, off + BS), readN(ch, BS).array());
                    }
                }
                return null;
            }));
        }
        for (Future<?> f : jobs) f.get();
        pool.shutdown();
    }

    /** Client flags, then NBD_OPT_GO for the default export with no info requests. */
    static byte[] handshakeBytes() {
        return ByteBuffer.allocate(4 + 16 + 6).putInt(FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES)
                .putLong(IHAVEOPT).putInt(OPT_GO).putInt(6).putInt(0).putShort((short) 0).array();
    }

    static ByteBuffer readN(SocketChannel ch, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) if (ch.read(b) < 0) throw new java.io.EOFException();
        return b.flip();
    }
}

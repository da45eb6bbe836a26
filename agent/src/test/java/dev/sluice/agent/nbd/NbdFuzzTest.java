package dev.sluice.agent.nbd;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static dev.sluice.agent.nbd.Protocol.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Feeds random and truncated handshakes and requests (oversize lengths, offsets past the end, unknown
 * commands, flags and options). The server must answer with an error or disconnect, never crash or
 * stop serving: after every hostile connection a well-behaved client still reads the right bytes.
 */
class NbdFuzzTest {

    static final int BS = 4096;
    byte[] image;
    NbdServer server;
    SocketAddress address;

    @BeforeEach
    void start() throws IOException {
        image = new byte[32 * BS + 123];
        new Random(9).nextBytes(image);
        server = NbdServer.tcp(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), new InMemoryExport(image, BS).export(), 4, l -> { });
        address = server.localAddress();
    }

    @AfterEach
    void stop() throws IOException {
        server.close();
    }

    @Test
    void randomHandshakeBytes() throws IOException {
        Random r = new Random(1);
        for (int i = 0; i < 150; i++) {
            byte[] junk = new byte[r.nextInt(300)];
            r.nextBytes(junk);
            if (r.nextBoolean() && junk.length >= 4) ByteBuffer.wrap(junk).putInt(0, FLAG_C_FIXED_NEWSTYLE); // valid flags, junk options
            if (r.nextInt(3) == 0 && junk.length >= 20) ByteBuffer.wrap(junk).putInt(0, 1).putLong(4, IHAVEOPT);
            hostile(junk);
            if (i % 10 == 0) assertGoodClientWorks();
        }
        assertGoodClientWorks();
    }

    @Test
    void randomOptionsWithValidFraming() throws IOException {
        Random r = new Random(2);
        for (int i = 0; i < 150; i++) {
            int option = r.nextInt(4) == 0 ? r.nextInt() : r.nextInt(16);
            byte[] payload = new byte[r.nextInt(64)];
            r.nextBytes(payload);
            long declared = r.nextInt(5) == 0 ? (r.nextBoolean() ? 0xffffffffL : NbdSession.MAX_OPTION_LENGTH + 1) : payload.length;
            ByteBuffer b = ByteBuffer.allocate(4 + 16 + payload.length).putInt(FLAG_C_FIXED_NEWSTYLE)
                    .putLong(IHAVEOPT).putInt(option).putInt((int) declared).put(payload);
            List<Integer> replies = hostile(b.array());
            if (declared == payload.length && option != OPT_EXPORT_NAME && option != OPT_GO && option != OPT_ABORT) {
                assertFalse(replies.isEmpty(), "option " + option + " got no reply");
            }
        }
        assertGoodClientWorks();
    }

    @Test
    void unknownOptionIsUnsupportedAndNegotiationContinues() throws IOException {
        try (SocketChannel ch = SocketChannel.open(address)) {
            ch.write(ByteBuffer.allocate(4 + 16).putInt(FLAG_C_FIXED_NEWSTYLE).putLong(IHAVEOPT).putInt(99).putInt(0).flip());
            NbdServerTest.readN(ch, 18);
            ByteBuffer rep = NbdServerTest.readN(ch, 20);
            assertEquals(99, rep.getInt(8));
            assertEquals(REP_ERR_UNSUP, rep.getInt(12));
            NbdServerTest.readN(ch, rep.getInt(16));
            // Structured-reply-only options before structured replies: invalid, not fatal.
            ch.write(ByteBuffer.allocate(16 + 8).putLong(IHAVEOPT).putInt(OPT_SET_META_CONTEXT).putInt(8).putInt(0).putInt(0).flip());
            rep = NbdServerTest.readN(ch, 20);
            assertEquals(REP_ERR_INVALID, rep.getInt(12));
            NbdServerTest.readN(ch, rep.getInt(16));
            // An unknown export name in GO is NBD_REP_ERR_UNKNOWN.
            ch.write(ByteBuffer.allocate(16 + 9).putLong(IHAVEOPT).putInt(OPT_GO).putInt(9).putInt(3).put("bad".getBytes()).putShort((short) 0).flip());
            rep = NbdServerTest.readN(ch, 20);
            assertEquals(REP_ERR_UNKNOWN, rep.getInt(12));
        }
    }

    @Test
    void randomRequestsAfterAValidHandshake() throws IOException {
        Random r = new Random(3);
        for (int conn = 0; conn < 40; conn++) {
            ByteBuffer out = ByteBuffer.allocate(1 << 20);
            out.put(NbdServerTest.handshakeBytes());
            int n = 1 + r.nextInt(8);
            for (int i = 0; i < n; i++) {
                int type = r.nextInt(5) == 0 ? r.nextInt(65536) : r.nextInt(9);
                if (type == CMD_DISC || type == CMD_WRITE_ZEROES) type = CMD_READ; // keep the disk's contents checkable
                int flags = r.nextInt(4) == 0 ? r.nextInt(65536) : 0;
                long offset = switch (r.nextInt(4)) {
                    case 0 -> r.nextLong();
                    case 1 -> image.length - r.nextInt(10);
                    default -> r.nextInt(image.length);
                };
                long length = switch (r.nextInt(4)) {
                    case 0 -> r.nextLong() & 0xffffffffL;
                    case 1 -> NbdSession.MAX_REQUEST + 1L;
                    default -> r.nextInt(3 * BS);
                };
                if (type == CMD_WRITE && length > 64 * 1024) length = r.nextInt(3 * BS);
                byte[] payload = null;
                if (type == CMD_WRITE) { // writes put back the bytes already there, so the good client's check holds
                    payload = new byte[(int) length];
                    if (offset >= 0 && offset + length <= image.length) System.arraycopy(image, (int) offset, payload, 0, (int) length);
                    else offset = image.length + r.nextInt(10); // out of range: ENOSPC, nothing written
                }
                out.put(NbdCodec.encodeRequest(flags, type, i, offset, length));
                if (payload != null) out.put(payload);
            }
            if (r.nextInt(4) == 0) out.position(Math.max(0, out.position() - 1 - r.nextInt(27))); // truncated tail
            byte[] bytes = Arrays.copyOf(out.array(), out.position());
            hostile(bytes);
            if (conn % 5 == 0) assertGoodClientWorks();
        }
        assertGoodClientWorks();
    }

    @Test
    void aSilentClientIsDisconnectedAfterTheHandshakeTimeout() throws IOException {
        server.handshakeTimeoutMillis = 300;
        try (SocketChannel ch = SocketChannel.open(address)) {
            ch.socket().setSoTimeout(5000);
            ch.write(ByteBuffer.allocate(4).putInt(FLAG_C_FIXED_NEWSTYLE).flip()); // then nothing
            byte[] got = ch.socket().getInputStream().readNBytes(1 << 16); // returns at EOF
            assertEquals(18, got.length, "only the greeting, then the server hangs up");
        }
        assertGoodClientWorks();
    }

    @Test
    void oversizedWriteIsRefusedAndTheClientDisconnected() throws IOException {
        try (SocketChannel ch = SocketChannel.open(address)) {
            ch.write(ByteBuffer.wrap(NbdServerTest.handshakeBytes()));
            NbdServerTest.readN(ch, 18 + 20 + 12 + 20 + 14 + 20);
            ch.write(NbdCodec.encodeRequest(0, CMD_WRITE, 77, 0, 0xfffffff0L));
            ByteBuffer rep = NbdServerTest.readN(ch, 16);
            assertEquals(EINVAL, rep.getInt(4));
            assertEquals(77, rep.getLong(8));
            assertThrows(IOException.class, () -> NbdServerTest.readN(ch, 1), "then the server hangs up");
        }
        assertGoodClientWorks();
    }

    /** Sends bytes, half-closes, and drains replies until the server closes (bounded wait). Returns option reply types seen. */
    private List<Integer> hostile(byte[] bytes) throws IOException {
        List<Integer> replyTypes = new ArrayList<>();
        try (SocketChannel ch = SocketChannel.open(address)) {
            ch.socket().setSoTimeout(3000);
            ByteBuffer b = ByteBuffer.wrap(bytes);
            try {
                while (b.hasRemaining()) ch.write(b);
                ch.shutdownOutput();
            } catch (IOException e) {
                return replyTypes; // server already hung up: fine
            }
            InputStream in = ch.socket().getInputStream(); // honours SO_TIMEOUT
            byte[] all = in.readNBytes(4 << 20);
            assertTrue(all.length < (4 << 20), "reply stream is bounded");
            ByteBuffer got = ByteBuffer.wrap(all);
            if (got.remaining() >= 18) got.position(18);
            while (got.remaining() >= 20 && got.getLong(got.position()) == OPTION_REPLY_MAGIC) {
                replyTypes.add(got.getInt(got.position() + 12));
                int len = got.getInt(got.position() + 16);
                if (len < 0 || got.remaining() < 20 + len) break;
                got.position(got.position() + 20 + len);
            }
        } catch (SocketTimeoutException e) {
            fail("server neither answered nor hung up within 3 s");
        } catch (IOException e) {
            // reset by the server: a disconnect is an allowed answer
        }
        return replyTypes;
    }

    private void assertGoodClientWorks() throws IOException {
        try (TestNbdClient c = TestNbdClient.connect(address, true)) {
            assertArrayEquals(Arrays.copyOfRange(image, 5 * BS, 7 * BS), c.read(5 * BS, 2 * BS));
            assertArrayEquals(Arrays.copyOfRange(image, image.length - 123, image.length), c.read(image.length - 123, 123));
        }
    }
}

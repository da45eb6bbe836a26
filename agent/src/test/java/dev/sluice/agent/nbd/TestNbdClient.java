package dev.sluice.agent.nbd;

import java.io.EOFException;
import java.io.IOException;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static dev.sluice.agent.nbd.Protocol.*;

/** A minimal blocking NBD client for tests: fixed newstyle, NBD_OPT_GO, simple or structured replies. */
public final class TestNbdClient implements AutoCloseable {

    /** An NBD error reply. */
    public static final class NbdError extends IOException {
        public final int error;

        NbdError(int error) {
            super("NBD error " + error);
            this.error = error;
        }
    }

    private final SocketChannel ch;
    public long size;
    public int flags;
    private final boolean structured;
    private long nextHandle = 1;

    private TestNbdClient(SocketChannel ch, boolean structured, List<String> contexts) throws IOException {
        this.ch = ch;
        this.structured = structured;
        ByteBuffer g = read(18);
        if (g.getLong() != NBDMAGIC || g.getLong() != IHAVEOPT) throw new IOException("bad greeting");
        write(ByteBuffer.allocate(4).putInt(FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES).flip());
        if (structured) {
            option(OPT_STRUCTURED_REPLY, ByteBuffer.allocate(0));
            expectAck(OPT_STRUCTURED_REPLY);
            if (!contexts.isEmpty()) {
                int len = 4 + 4;
                for (String c : contexts) len += 4 + c.length();
                ByteBuffer p = ByteBuffer.allocate(len).putInt(0).putInt(contexts.size());
                for (String c : contexts) p.putInt(c.length()).put(c.getBytes(StandardCharsets.UTF_8));
                option(OPT_SET_META_CONTEXT, p.flip());
                while (optionReply(OPT_SET_META_CONTEXT).getInt(12) != REP_ACK) {
                    // context replies
                }
            }
        }
        option(OPT_GO, ByteBuffer.allocate(6).putInt(0).putShort((short) 0).flip());
        while (true) {
            ByteBuffer r = optionReply(OPT_GO);
            int type = r.getInt(12);
            if (type == REP_ACK) break;
            if (type != REP_INFO) throw new IOException("GO failed: reply type " + Integer.toHexString(type));
            if (r.getShort(20) == INFO_EXPORT) {
                size = r.getLong(22);
                flags = Short.toUnsignedInt(r.getShort(30));
            }
        }
    }

    public static TestNbdClient connect(SocketAddress address, boolean structured, String... contexts) throws IOException {
        SocketChannel ch = address instanceof UnixDomainSocketAddress
                ? SocketChannel.open(StandardProtocolFamily.UNIX) : SocketChannel.open();
        ch.connect(address);
        try {
            return new TestNbdClient(ch, structured, List.of(contexts));
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    public static TestNbdClient connect(Path unixSocket) throws IOException {
        return connect(UnixDomainSocketAddress.of(unixSocket), true, SLUICE_BLOCKS);
    }

    private void option(int option, ByteBuffer payload) throws IOException {
        write(ByteBuffer.allocate(16 + payload.remaining()).putLong(IHAVEOPT).putInt(option).putInt(payload.remaining()).put(payload).flip());
    }

    /** Whole reply (20-byte header + payload) as a buffer positioned at 0. */
    private ByteBuffer optionReply(int option) throws IOException {
        ByteBuffer h = read(20);
        if (h.getLong(0) != OPTION_REPLY_MAGIC || h.getInt(8) != option) throw new IOException("bad option reply");
        int len = h.getInt(16);
        ByteBuffer all = ByteBuffer.allocate(20 + len).put(h.rewind());
        all.put(read(len));
        return all.flip();
    }

    private void expectAck(int option) throws IOException {
        ByteBuffer r = optionReply(option);
        if (r.getInt(12) != REP_ACK) throw new IOException("option " + option + " not acknowledged: " + Integer.toHexString(r.getInt(12)));
    }

    public byte[] read(long offset, int length) throws IOException {
        long handle = send(CMD_READ, 0, offset, length, null);
        byte[] out = new byte[length];
        if (!structured) {
            ByteBuffer r = read(16);
            check(r, handle);
            read(length).get(out);
            return out;
        }
        int error = 0;
        while (true) {
            ByteBuffer h = read(20);
            if (h.getInt(0) != STRUCTURED_REPLY_MAGIC || h.getLong(8) != handle) throw new IOException("bad structured reply");
            int cflags = h.getShort(4), type = Short.toUnsignedInt(h.getShort(6)), len = h.getInt(16);
            ByteBuffer p = read(len);
            if (type == REPLY_TYPE_OFFSET_DATA) {
                long at = p.getLong();
                p.get(out, (int) (at - offset), len - 8);
            } else if ((type & 0x8000) != 0) {
                error = p.getInt();
            }
            if ((cflags & REPLY_FLAG_DONE) != 0) break;
        }
        if (error != 0) throw new NbdError(error);
        return out;
    }

    public void write(long offset, byte[] data, boolean fua) throws IOException {
        long handle = send(CMD_WRITE, fua ? CMD_FLAG_FUA : 0, offset, data.length, ByteBuffer.wrap(data));
        simpleOrStructuredAck(handle);
    }

    public void flush() throws IOException {
        simpleOrStructuredAck(send(CMD_FLUSH, 0, 0, 0, null));
    }

    public void command(int type, int cmdFlags, long offset, long length) throws IOException {
        simpleOrStructuredAck(send(type, cmdFlags, offset, length, null));
    }

    /** sluice:blocks statuses: pairs of (length, flags). Requires the context to have been negotiated. */
    public List<long[]> blockStatus(long offset, long length) throws IOException {
        long handle = send(CMD_BLOCK_STATUS, 0, offset, length, null);
        List<long[]> out = new ArrayList<>();
        int error = 0;
        while (true) {
            ByteBuffer h = read(20);
            if (h.getLong(8) != handle) throw new IOException("bad reply handle");
            if (h.getInt(0) == SIMPLE_REPLY_MAGIC) throw new IOException("unexpected simple reply");
            int cflags = h.getShort(4), type = Short.toUnsignedInt(h.getShort(6)), len = h.getInt(16);
            ByteBuffer p = read(len);
            if (type == REPLY_TYPE_BLOCK_STATUS) {
                p.getInt();
                while (p.hasRemaining()) out.add(new long[]{Integer.toUnsignedLong(p.getInt()), p.getInt()});
            } else if ((type & 0x8000) != 0) {
                error = p.getInt();
            }
            if ((cflags & REPLY_FLAG_DONE) != 0) break;
        }
        if (error != 0) throw new NbdError(error);
        return out;
    }

    public void disconnect() throws IOException {
        send(CMD_DISC, 0, 0, 0, null);
        ch.close();
    }

    private void simpleOrStructuredAck(long handle) throws IOException {
        ByteBuffer h = read(16);
        if (h.getInt(0) == SIMPLE_REPLY_MAGIC) {
            check(h, handle);
            return;
        }
        ByteBuffer rest = read(4);
        int cflags = h.getShort(4), type = Short.toUnsignedInt(h.getShort(6)), len = rest.getInt(0);
        ByteBuffer p = read(len);
        if ((type & 0x8000) != 0) throw new NbdError(p.getInt(0));
        if ((cflags & REPLY_FLAG_DONE) == 0) throw new IOException("multi-chunk ack not expected");
    }

    private static void check(ByteBuffer r, long handle) throws IOException {
        if (r.getInt(0) != SIMPLE_REPLY_MAGIC || r.getLong(8) != handle) throw new IOException("bad simple reply");
        if (r.getInt(4) != 0) throw new NbdError(r.getInt(4));
    }

    private long send(int type, int cmdFlags, long offset, long length, ByteBuffer data) throws IOException {
        long handle = nextHandle++;
        write(NbdCodec.encodeRequest(cmdFlags, type, handle, offset, length));
        if (data != null) write(data);
        return handle;
    }

    private ByteBuffer read(int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) if (ch.read(b) < 0) throw new EOFException();
        return b.flip();
    }

    private void write(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) ch.write(b);
    }

    @Override
    public void close() throws IOException {
        ch.close();
    }
}

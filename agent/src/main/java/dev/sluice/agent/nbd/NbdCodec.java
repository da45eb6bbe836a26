package dev.sluice.agent.nbd;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static dev.sluice.agent.nbd.Protocol.*;

/**
 * Encodes and decodes NBD messages to and from byte buffers; no sockets, no state. Decoders throw
 * {@link MalformedException} for input that breaks the protocol's framing rules.
 */
public final class NbdCodec {

    private NbdCodec() {
    }

    public static final int REQUEST_BYTES = 28;
    public static final int SIMPLE_REPLY_BYTES = 16;
    public static final int STRUCTURED_HEADER_BYTES = 20;
    /** Longest NBD string (export names, queries): the spec's MUST limit. */
    public static final int MAX_STRING = 4096;

    /** Input that cannot be a valid message. */
    public static final class MalformedException extends Exception {
        public MalformedException(String message) {
            super(message, null, false, false);
        }
    }

    public record Request(int flags, int type, long handle, long offset, long length) {
    }

    /** NBD_OPT_INFO / NBD_OPT_GO payload. */
    public record InfoRequest(String exportName, List<Integer> infoTypes) {
    }

    /** NBD_OPT_LIST_META_CONTEXT / NBD_OPT_SET_META_CONTEXT payload. */
    public record MetaContextRequest(String exportName, List<String> queries) {
    }

    public static ByteBuffer greeting() {
        return ByteBuffer.allocate(18).putLong(NBDMAGIC).putLong(IHAVEOPT)
                .putShort((short) (FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES)).flip();
    }

    public static ByteBuffer optionReply(int option, int replyType, ByteBuffer payload) {
        int n = payload == null ? 0 : payload.remaining();
        ByteBuffer b = ByteBuffer.allocate(20 + n).putLong(OPTION_REPLY_MAGIC).putInt(option).putInt(replyType).putInt(n);
        if (payload != null) b.put(payload.duplicate());
        return b.flip();
    }

    public static ByteBuffer optionError(int option, int replyType, String message) {
        return optionReply(option, replyType, ByteBuffer.wrap(message.getBytes(StandardCharsets.UTF_8)));
    }

    /** Reply to NBD_OPT_EXPORT_NAME: size, transmission flags, and 124 zero bytes unless NO_ZEROES was agreed. */
    public static ByteBuffer exportNameReply(long size, int transmissionFlags, boolean noZeroes) {
        ByteBuffer b = ByteBuffer.allocate(10 + (noZeroes ? 0 : 124)).putLong(size).putShort((short) transmissionFlags);
        return b.position(b.capacity()).flip();
    }

    public static ByteBuffer serverEntry(String name) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(4 + n.length).putInt(n.length).put(n).flip();
    }

    public static ByteBuffer infoExport(long size, int transmissionFlags) {
        return ByteBuffer.allocate(12).putShort((short) INFO_EXPORT).putLong(size).putShort((short) transmissionFlags).flip();
    }

    public static ByteBuffer infoString(int infoType, String value) {
        byte[] v = value.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(2 + v.length).putShort((short) infoType).put(v).flip();
    }

    public static ByteBuffer infoBlockSize(int minimum, int preferred, int maximum) {
        return ByteBuffer.allocate(14).putShort((short) INFO_BLOCK_SIZE).putInt(minimum).putInt(preferred).putInt(maximum).flip();
    }

    public static ByteBuffer metaContext(int id, String name) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(4 + n.length).putInt(id).put(n).flip();
    }

    public static InfoRequest decodeInfoRequest(ByteBuffer payload) throws MalformedException {
        ByteBuffer p = payload.duplicate();
        String name = readString(p, "export name");
        if (p.remaining() < 2) throw new MalformedException("missing information request count");
        int n = Short.toUnsignedInt(p.getShort());
        if (p.remaining() != 2 * n) throw new MalformedException("information request count " + n + " does not match the option length");
        List<Integer> types = new ArrayList<>(n);
        for (int i = 0; i < n; i++) types.add(Short.toUnsignedInt(p.getShort()));
        return new InfoRequest(name, types);
    }

    public static MetaContextRequest decodeMetaContextRequest(ByteBuffer payload) throws MalformedException {
        ByteBuffer p = payload.duplicate();
        String name = readString(p, "export name");
        if (p.remaining() < 4) throw new MalformedException("missing query count");
        long n = Integer.toUnsignedLong(p.getInt());
        if (n > p.remaining() / 4) throw new MalformedException("query count " + n + " exceeds the option length");
        List<String> queries = new ArrayList<>((int) n);
        for (int i = 0; i < n; i++) queries.add(readString(p, "query"));
        if (p.hasRemaining()) throw new MalformedException(p.remaining() + " trailing bytes");
        return new MetaContextRequest(name, queries);
    }

    /** A 32-bit length and that many UTF-8 bytes, bounded by the buffer and by {@link #MAX_STRING}. */
    private static String readString(ByteBuffer p, String what) throws MalformedException {
        if (p.remaining() < 4) throw new MalformedException("missing " + what + " length");
        long len = Integer.toUnsignedLong(p.getInt());
        if (len > p.remaining() || len > MAX_STRING) throw new MalformedException(what + " length " + len + " is too long");
        ByteBuffer s = p.slice().limit((int) len);
        p.position(p.position() + (int) len);
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(s).toString();
        } catch (CharacterCodingException e) {
            throw new MalformedException(what + " is not UTF-8");
        }
    }

    /** Decodes a 28-byte request header (the WRITE payload, if any, follows separately). */
    public static Request decodeRequest(ByteBuffer header) throws MalformedException {
        if (header.remaining() < REQUEST_BYTES) throw new MalformedException("short request header");
        ByteBuffer h = header.duplicate();
        int magic = h.getInt();
        if (magic != REQUEST_MAGIC) throw new MalformedException(String.format("bad request magic 0x%08x", magic));
        int flags = Short.toUnsignedInt(h.getShort());
        int type = Short.toUnsignedInt(h.getShort());
        long handle = h.getLong();
        long offset = h.getLong();
        long length = Integer.toUnsignedLong(h.getInt());
        return new Request(flags, type, handle, offset, length);
    }

    public static ByteBuffer encodeRequest(int flags, int type, long handle, long offset, long length) {
        return ByteBuffer.allocate(REQUEST_BYTES).putInt(REQUEST_MAGIC).putShort((short) flags).putShort((short) type)
                .putLong(handle).putLong(offset).putInt((int) length).flip();
    }

    /** Puts a simple reply header at {@code dst}'s position. */
    public static void putSimpleReply(ByteBuffer dst, int error, long handle) {
        dst.putInt(SIMPLE_REPLY_MAGIC).putInt(error).putLong(handle);
    }

    /** Puts a structured reply chunk header at {@code dst}'s position. */
    public static void putStructuredHeader(ByteBuffer dst, int flags, int type, long handle, int length) {
        dst.putInt(STRUCTURED_REPLY_MAGIC).putShort((short) flags).putShort((short) type).putLong(handle).putInt(length);
    }

    public static ByteBuffer simpleReply(int error, long handle) {
        ByteBuffer b = ByteBuffer.allocate(SIMPLE_REPLY_BYTES);
        putSimpleReply(b, error, handle);
        return b.flip();
    }

    /** A final NBD_REPLY_TYPE_ERROR chunk carrying {@code error} and a human-readable message. */
    public static ByteBuffer errorChunk(long handle, int error, String message) {
        byte[] m = message.getBytes(StandardCharsets.UTF_8);
        int n = Math.min(m.length, 1024);
        ByteBuffer b = ByteBuffer.allocate(STRUCTURED_HEADER_BYTES + 6 + n);
        putStructuredHeader(b, REPLY_FLAG_DONE, REPLY_TYPE_ERROR, handle, 6 + n);
        return b.putInt(error).putShort((short) n).put(m, 0, n).flip();
    }

    /** One NBD_REPLY_TYPE_BLOCK_STATUS chunk: {@code n} descriptors (length, status) for one context. */
    public static ByteBuffer blockStatusChunk(long handle, boolean done, int contextId, long[] lengths, int[] statuses, int n) {
        ByteBuffer b = ByteBuffer.allocate(STRUCTURED_HEADER_BYTES + 4 + 8 * n);
        putStructuredHeader(b, done ? REPLY_FLAG_DONE : 0, REPLY_TYPE_BLOCK_STATUS, handle, 4 + 8 * n);
        b.putInt(contextId);
        for (int i = 0; i < n; i++) b.putInt((int) lengths[i]).putInt(statuses[i]);
        return b.flip();
    }
}

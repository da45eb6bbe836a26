package dev.sluice.agent.nbd;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.HexFormat;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Byte-for-byte checks of every message the codec builds or parses; no sockets. */
class NbdCodecTest {

    private static String hex(ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.duplicate().get(a);
        return HexFormat.of().formatHex(a);
    }

    private static ByteBuffer bytes(String hex) {
        return ByteBuffer.wrap(HexFormat.of().parseHex(hex.replace(" ", "")));
    }

    @Test
    void greetingIsMagicsAndFixedNewstyleWithNoZeroes() {
        assertEquals("4e42444d41474943" + "49484156454f5054" + "0003", hex(NbdCodec.greeting()));
    }

    @Test
    void optionReplyHasMagicOptionTypeLengthPayload() {
        assertEquals("0003e889045565a9" + "00000007" + "00000001" + "00000000", hex(NbdCodec.optionReply(7, Protocol.REP_ACK, null)));
        assertEquals("0003e889045565a9" + "00000003" + "00000002" + "00000008" + "00000004" + "6469736b",
                hex(NbdCodec.optionReply(3, Protocol.REP_SERVER, NbdCodec.serverEntry("disk"))));
        assertEquals("0003e889045565a9" + "0000000a" + "80000001" + "00000002" + "6869",
                hex(NbdCodec.optionError(10, Protocol.REP_ERR_UNSUP, "hi")));
    }

    @Test
    void exportNameReplyPadsWith124ZeroesUnlessNoZeroes() {
        assertEquals("0000000000001000" + "0105", hex(NbdCodec.exportNameReply(4096, 0x105, true)));
        ByteBuffer padded = NbdCodec.exportNameReply(4096, 0x105, false);
        assertEquals(134, padded.remaining());
        assertEquals("0000000000001000" + "0105" + "00".repeat(124), hex(padded));
    }

    @Test
    void infoPayloads() {
        assertEquals("0000" + "0000000000100000" + "05ed", hex(NbdCodec.infoExport(1 << 20, 0x5ed)));
        assertEquals("0003" + "00000001" + "00010000" + "02000000", hex(NbdCodec.infoBlockSize(1, 65536, 32 << 20)));
        assertEquals("0001" + "6162", hex(NbdCodec.infoString(Protocol.INFO_NAME, "ab")));
        assertEquals("00000002" + "736c756963653a626c6f636b73", hex(NbdCodec.metaContext(2, "sluice:blocks")));
    }

    @Test
    void decodesInfoRequest() throws Exception {
        NbdCodec.InfoRequest r = NbdCodec.decodeInfoRequest(bytes("00000002 6162 0002 0003 0001"));
        assertEquals("ab", r.exportName());
        assertEquals(List.of(3, 1), r.infoTypes());
    }

    @Test
    void rejectsInfoRequestsWhoseLengthsDisagree() {
        assertThrows(NbdCodec.MalformedException.class, () -> NbdCodec.decodeInfoRequest(bytes("00000005 6162")));
        assertThrows(NbdCodec.MalformedException.class, () -> NbdCodec.decodeInfoRequest(bytes("00000000 0002 0003")));
        assertThrows(NbdCodec.MalformedException.class, () -> NbdCodec.decodeInfoRequest(bytes("00000000 0000 00")));
        assertThrows(NbdCodec.MalformedException.class, () -> NbdCodec.decodeInfoRequest(bytes("ffffffff")));
        assertThrows(NbdCodec.MalformedException.class, () -> NbdCodec.decodeInfoRequest(bytes("000000")));
    }

    @Test
    void decodesMetaContextRequest() throws Exception {
        NbdCodec.MetaContextRequest r = NbdCodec.decodeMetaContextRequest(
                bytes("00000000 00000002 0000000f 626173653a616c6c6f636174696f6e 00000007 736c756963653a"));
        assertEquals("", r.exportName());
        assertEquals(List.of("base:allocation", "sluice:"), r.queries());
    }

    @Test
    void rejectsMetaContextRequestsWithBadCountsOrTrailingBytes() {
        assertThrows(NbdCodec.MalformedException.class, () -> NbdCodec.decodeMetaContextRequest(bytes("00000000 7fffffff")));
        assertThrows(NbdCodec.MalformedException.class, () -> NbdCodec.decodeMetaContextRequest(bytes("00000000 00000001 00000005 6162")));
        assertThrows(NbdCodec.MalformedException.class, () -> NbdCodec.decodeMetaContextRequest(bytes("00000000 00000000 00")));
        assertThrows(NbdCodec.MalformedException.class, () -> NbdCodec.decodeMetaContextRequest(bytes("00000000 00000001 00000002 c328")));
    }

    @Test
    void requestRoundTripsAndRejectsBadMagic() throws Exception {
        ByteBuffer req = NbdCodec.encodeRequest(Protocol.CMD_FLAG_FUA, Protocol.CMD_WRITE, 0x1122334455667788L, 0x10000, 0xfffffffeL);
        assertEquals("25609513" + "0001" + "0001" + "1122334455667788" + "0000000000010000" + "fffffffe", hex(req));
        NbdCodec.Request r = NbdCodec.decodeRequest(req);
        assertEquals(new NbdCodec.Request(1, 1, 0x1122334455667788L, 0x10000, 0xfffffffeL), r);
        assertThrows(NbdCodec.MalformedException.class, () -> NbdCodec.decodeRequest(bytes("25609514" + "00".repeat(24))));
        assertThrows(NbdCodec.MalformedException.class, () -> NbdCodec.decodeRequest(bytes("25609513")));
    }

    @Test
    void simpleReplyAndStructuredChunks() {
        assertEquals("67446698" + "00000016" + "000000000000002a", hex(NbdCodec.simpleReply(Protocol.EINVAL, 42)));
        assertEquals("668e33ef" + "0001" + "8001" + "000000000000002a" + "00000008" + "00000005" + "0002" + "6f6b",
                hex(NbdCodec.errorChunk(42, Protocol.EIO, "ok")));
        assertEquals("668e33ef" + "0001" + "0005" + "0000000000000007" + "00000014" + "00000002"
                        + "00010000" + "00000003" + "00008000" + "00000000",
                hex(NbdCodec.blockStatusChunk(7, true, 2, new long[]{65536, 32768}, new int[]{3, 0}, 2)));
        ByteBuffer h = ByteBuffer.allocate(20);
        NbdCodec.putStructuredHeader(h, 0, Protocol.REPLY_TYPE_OFFSET_DATA, 9, 12);
        assertEquals("668e33ef" + "0000" + "0001" + "0000000000000009" + "0000000c", hex(h.flip()));
    }
}

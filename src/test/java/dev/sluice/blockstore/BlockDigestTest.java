package dev.sluice.blockstore;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class BlockDigestTest {

    // FIPS 180-2 test vector: SHA-256("abc").
    private static final String ABC_HEX = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    private static final String ABC_BASE64 = "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=";

    @Test
    void digestOfKnownContentMatchesTheStandardVector() {
        BlockDigest d = BlockDigest.of("abc".getBytes(StandardCharsets.US_ASCII));
        assertEquals(ABC_HEX, d.hex());
        assertEquals(ABC_BASE64, d.base64());
        assertEquals("sha256:" + ABC_HEX, d.toString());
    }

    @Test
    void digestOfTheEmptyBlockIsTheStandardOne() {
        assertEquals("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                BlockDigest.of(new byte[0]).hex());
    }

    @Test
    void hexBase64AndRawFormsRoundTrip() {
        BlockDigest d = BlockDigest.fromHex(ABC_HEX);
        assertEquals(d, BlockDigest.fromBase64(ABC_BASE64));
        assertEquals(d, BlockDigest.fromBytes(d.toBytes()));
        assertEquals(d, BlockDigest.fromHex(ABC_HEX.toUpperCase()));
        assertEquals(d.hashCode(), BlockDigest.fromBase64(ABC_BASE64).hashCode());
    }

    @Test
    void digestOfABufferCoversOnlyItsRemainingBytesAndLeavesItUnchanged() {
        ByteBuffer buf = ByteBuffer.wrap("xxabcyy".getBytes(StandardCharsets.US_ASCII), 2, 3);
        assertEquals(ABC_HEX, BlockDigest.of(buf).hex());
        assertEquals(2, buf.position());
        assertEquals(5, buf.limit());
    }

    @Test
    void matchesIsTrueOnlyForTheExactBytes() {
        BlockDigest d = BlockDigest.fromHex(ABC_HEX);
        assertTrue(d.matches("abc".getBytes(StandardCharsets.US_ASCII)));
        assertFalse(d.matches("abd".getBytes(StandardCharsets.US_ASCII)));
        assertFalse(d.matches("abc ".getBytes(StandardCharsets.US_ASCII)));
    }

    @Test
    void theRawBytesCannotBeChangedFromOutside() {
        byte[] raw = BlockDigest.fromHex(ABC_HEX).toBytes();
        BlockDigest d = BlockDigest.fromBytes(raw);
        raw[0] ^= 1;
        assertEquals(ABC_HEX, d.hex());
        d.toBytes()[0] ^= 1;
        assertEquals(ABC_HEX, d.hex());
    }

    @Test
    void orderIsUnsignedByteOrder() {
        BlockDigest low = BlockDigest.fromHex("7f" + "00".repeat(31));
        BlockDigest high = BlockDigest.fromHex("80" + "00".repeat(31));
        assertTrue(low.compareTo(high) < 0);
        assertNotEquals(low, high);
    }

    @Test
    void rawDigestsOfTheWrongLengthAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> BlockDigest.fromBytes(new byte[31]));
        assertThrows(IllegalArgumentException.class, () -> BlockDigest.fromBytes(new byte[33]));
        assertThrows(NullPointerException.class, () -> BlockDigest.fromBytes(null));
    }

    static Stream<String> malformedHex() {
        return Stream.of("", "abc", ABC_HEX + "0", ABC_HEX.substring(1), "g" + "0".repeat(63),
                "+" + "0".repeat(63), "0".repeat(62) + " 0", "../" + "0".repeat(61));
    }

    @ParameterizedTest
    @MethodSource("malformedHex")
    void malformedHexIsRejected(String hex) {
        assertThrows(IllegalArgumentException.class, () -> BlockDigest.fromHex(hex));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0", "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0==",
        "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0=", "!ngWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="})
    void malformedBase64IsRejected(String base64) {
        assertThrows(IllegalArgumentException.class, () -> BlockDigest.fromBase64(base64));
    }
}

package dev.sluice.blockstore;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Objects;

/**
 * The SHA-256 of a block's exact bytes: the block's name in a {@link BlockStore} and on the wire
 * (see docs/block-protocol.md, "Digests").
 *
 * <p>Immutable and thread-safe. Every factory validates its input (exactly 32 bytes, 64 hex digits, or base64 of
 * 32 bytes) and throws {@link IllegalArgumentException} otherwise, so a {@code BlockDigest} built from untrusted
 * input (a URL, a frame header, a file name) is always well formed. The array passed to {@link #fromBytes} is
 * copied, and {@link #toBytes} returns a copy.
 */
public final class BlockDigest implements Comparable<BlockDigest> {

    /** Length of a SHA-256 digest in bytes. */
    public static final int LENGTH = 32;

    private static final HexFormat HEX = HexFormat.of();

    private final byte[] bytes;

    private BlockDigest(byte[] bytes) {
        this.bytes = bytes;
    }

    /** The digest of {@code content}. */
    public static BlockDigest of(byte[] content) {
        Objects.requireNonNull(content, "content");
        return new BlockDigest(sha256().digest(content));
    }

    /**
     * The digest of the remaining bytes of {@code content} (position to limit). The buffer's position, limit and
     * contents are left unchanged.
     */
    public static BlockDigest of(ByteBuffer content) {
        Objects.requireNonNull(content, "content");
        MessageDigest md = sha256();
        md.update(content.duplicate());
        return new BlockDigest(md.digest());
    }

    /** A digest from its 32 raw bytes (the array is copied). */
    public static BlockDigest fromBytes(byte[] digest) {
        Objects.requireNonNull(digest, "digest");
        if (digest.length != LENGTH) {
            throw new IllegalArgumentException("a SHA-256 digest has " + LENGTH + " bytes, not " + digest.length);
        }
        return new BlockDigest(digest.clone());
    }

    /** A digest from 64 hex digits (either case). */
    public static BlockDigest fromHex(String hex) {
        Objects.requireNonNull(hex, "hex");
        if (hex.length() != 2 * LENGTH) {
            throw new IllegalArgumentException("a SHA-256 digest has " + 2 * LENGTH + " hex digits");
        }
        try {
            return new BlockDigest(HEX.parseHex(hex));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("not a hex SHA-256 digest");
        }
    }

    /** A digest from standard base64 with padding (44 characters), the form of RFC 9530 {@code Repr-Digest}. */
    public static BlockDigest fromBase64(String base64) {
        Objects.requireNonNull(base64, "base64");
        if (base64.length() != 44) {
            throw new IllegalArgumentException("a base64 SHA-256 digest has 44 characters");
        }
        byte[] decoded;
        try {
            decoded = Base64.getDecoder().decode(base64);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("not a base64 SHA-256 digest");
        }
        if (decoded.length != LENGTH) {
            throw new IllegalArgumentException("not a base64 SHA-256 digest");
        }
        return new BlockDigest(decoded);
    }

    /** Whether {@code content} hashes to this digest. */
    public boolean matches(byte[] content) {
        Objects.requireNonNull(content, "content");
        return MessageDigest.isEqual(bytes, sha256().digest(content));
    }

    /** The 32 raw bytes (a fresh copy). */
    public byte[] toBytes() {
        return bytes.clone();
    }

    /** 64 lower-case hex digits: the form used in storage keys and file names. */
    public String hex() {
        return HEX.formatHex(bytes);
    }

    /** Standard base64 with padding, as in {@code Repr-Digest: sha-256=:<base64>:}. */
    public String base64() {
        return Base64.getEncoder().encodeToString(bytes);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BlockDigest other && Arrays.equals(bytes, other.bytes);
    }

    @Override
    public int hashCode() {
        // The bytes are a cryptographic hash: any four of them are as good as all of them.
        return (bytes[0] & 0xff) << 24 | (bytes[1] & 0xff) << 16 | (bytes[2] & 0xff) << 8 | (bytes[3] & 0xff);
    }

    @Override
    public int compareTo(BlockDigest o) {
        return Arrays.compareUnsigned(bytes, o.bytes);
    }

    @Override
    public String toString() {
        return "sha256:" + hex();
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform provides SHA-256", e);
        }
    }
}

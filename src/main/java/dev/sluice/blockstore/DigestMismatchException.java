package dev.sluice.blockstore;

/**
 * The bytes given to {@link BlockStore#put} do not hash to the digest they were given with: the sender is wrong
 * (or the bytes were damaged on their way). Nothing was stored. A client error, not a storage failure.
 */
public class DigestMismatchException extends BlockStoreException {
    private final BlockDigest expected;
    private final BlockDigest actual;

    public DigestMismatchException(BlockDigest expected, BlockDigest actual) {
        super("block bytes hash to " + actual + ", not to the given " + expected);
        this.expected = expected;
        this.actual = actual;
    }

    /** The digest the caller claimed. */
    public BlockDigest expected() {
        return expected;
    }

    /** The digest of the bytes actually given. */
    public BlockDigest actual() {
        return actual;
    }
}

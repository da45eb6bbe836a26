package dev.sluice.blockstore;

/**
 * A stored block's bytes no longer hash to its digest (damaged at rest or in transit). The bytes were not returned
 * and the block has been quarantined (see {@link BlockStore}): it reads as absent until it is stored again. (If
 * quarantine itself failed, that failure is attached as a suppressed exception and the block stays in place.)
 * A server-side integrity failure, never the caller's fault.
 */
public class CorruptBlockException extends BlockStoreException {
    private final String tenantId;
    private final BlockDigest digest;

    public CorruptBlockException(String tenantId, BlockDigest digest, String detail) {
        super("stored block " + digest + " of tenant " + tenantId + " is corrupt: " + detail);
        this.tenantId = tenantId;
        this.digest = digest;
    }

    public String tenantId() {
        return tenantId;
    }

    public BlockDigest digest() {
        return digest;
    }
}

package dev.sluice.blockstore;

/**
 * A {@link BlockStore} could not do what was asked. The base type means the storage itself failed (disk, network,
 * S3 error): the request may succeed when retried. The subtypes are domain errors that a retry does not fix.
 */
public class BlockStoreException extends RuntimeException {
    public BlockStoreException(String message) {
        super(message);
    }

    public BlockStoreException(String message, Throwable cause) {
        super(message, cause);
    }
}

package dev.sluice.blockstore;

import java.nio.ByteBuffer;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Optional;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import org.jboss.logging.Logger;

/**
 * The rules every backend shares, in one place: argument validation, verification of the bytes on {@code put}
 * (before anything is stored) and on {@code get} (before anything is returned), and the handling of a corrupt block
 * (report, quarantine, throw). A backend only moves verified bytes to and from its medium.
 */
abstract class VerifyingBlockStore implements BlockStore {
    private static final Logger LOG = Logger.getLogger(VerifyingBlockStore.class);

    private final String backend;
    private final CorruptBlockLog corruptBlocks;

    VerifyingBlockStore(String backend, CorruptBlockLog corruptBlocks) {
        this.backend = backend;
        this.corruptBlocks = Objects.requireNonNull(corruptBlocks, "corruptBlocks");
    }

    @Override
    public final boolean put(String tenantId, BlockDigest digest, ByteBuffer content) {
        BlockStore.requireTenantId(tenantId);
        Objects.requireNonNull(digest, "digest");
        Objects.requireNonNull(content, "content");
        if (content.remaining() > MAX_BLOCK_SIZE) {
            throw new IllegalArgumentException("block of " + content.remaining() + " bytes exceeds the maximum of "
                    + MAX_BLOCK_SIZE);
        }
        // Copy first, then verify the copy, then store the copy: what is stored is exactly what was verified.
        byte[] bytes = new byte[content.remaining()];
        content.duplicate().get(bytes);
        BlockDigest actual = BlockDigest.of(bytes);
        if (!actual.equals(digest)) {
            throw new DigestMismatchException(digest, actual);
        }
        if (contains(tenantId, digest)) {
            return false;
        }
        store(tenantId, digest, bytes);
        return true;
    }

    @Override
    public final Optional<byte[]> get(String tenantId, BlockDigest digest) {
        BlockStore.requireTenantId(tenantId);
        Objects.requireNonNull(digest, "digest");
        Optional<byte[]> stored;
        try {
            stored = load(tenantId, digest);
        } catch (OversizedBlockException e) {
            throw corrupt(tenantId, digest, "stored object has " + e.sizeBytes + " bytes, more than any block");
        }
        if (stored.isPresent() && !digest.matches(stored.get())) {
            throw corrupt(tenantId, digest, "stored bytes (" + stored.get().length + ") hash to "
                    + BlockDigest.of(stored.get()).hex());
        }
        return stored;
    }

    @Override
    public final boolean exists(String tenantId, BlockDigest digest) {
        BlockStore.requireTenantId(tenantId);
        Objects.requireNonNull(digest, "digest");
        return contains(tenantId, digest);
    }

    @Override
    public final void delete(String tenantId, BlockDigest digest) {
        BlockStore.requireTenantId(tenantId);
        Objects.requireNonNull(digest, "digest");
        remove(tenantId, digest);
    }

    @Override
    public final Stream<StoredBlock> blocks(String tenantId) {
        BlockStore.requireTenantId(tenantId);
        Stream<StoredBlock> listed = list(tenantId);
        // The listing is lazy: storage failures surface while the caller consumes it. Report them as the SPI says.
        Iterator<StoredBlock> it = listed.iterator();
        Iterator<StoredBlock> translated = new Iterator<>() {
            @Override
            public boolean hasNext() {
                try {
                    return it.hasNext();
                } catch (BlockStoreException e) {
                    throw e;
                } catch (RuntimeException e) {
                    throw new BlockStoreException("cannot list blocks of tenant " + tenantId, e);
                }
            }

            @Override
            public StoredBlock next() {
                try {
                    return it.next();
                } catch (BlockStoreException | NoSuchElementException e) {
                    throw e;
                } catch (RuntimeException e) {
                    throw new BlockStoreException("cannot list blocks of tenant " + tenantId, e);
                }
            }
        };
        return StreamSupport.stream(Spliterators.spliteratorUnknownSize(translated, Spliterator.NONNULL), false)
                .onClose(listed::close);
    }

    private CorruptBlockException corrupt(String tenantId, BlockDigest digest, String detail) {
        corruptBlocks.record(backend, tenantId, digest, detail);
        CorruptBlockException corrupt = new CorruptBlockException(tenantId, digest, detail);
        try {
            quarantine(tenantId, digest);
        } catch (RuntimeException e) {
            // The caller still gets no bytes; the block stays in place and is detected again on the next get.
            LOG.errorf(e, "could not quarantine corrupt block %s of tenant %s", digest.hex(), tenantId);
            corrupt.addSuppressed(e);
        }
        return corrupt;
    }

    // --- what a backend provides; arguments are already validated -------------------------------------------

    /** Whether the object exists (contents not read). */
    abstract boolean contains(String tenantId, BlockDigest digest);

    /**
     * Durably stores verified bytes. May be called concurrently for the same key with the same bytes; the key must
     * never be observable with partial contents.
     */
    abstract void store(String tenantId, BlockDigest digest, byte[] verifiedBytes);

    /**
     * The stored bytes, unverified, or empty if absent.
     *
     * @throws OversizedBlockException if the stored object is larger than {@link #MAX_BLOCK_SIZE} (not read)
     */
    abstract Optional<byte[]> load(String tenantId, BlockDigest digest);

    /** Removes the object if present. */
    abstract void remove(String tenantId, BlockDigest digest);

    /** Moves a corrupt object out of the block namespace, keeping it for inspection where the backend can. */
    abstract void quarantine(String tenantId, BlockDigest digest);

    /** The tenant's blocks (see {@link BlockStore#blocks}). */
    abstract Stream<StoredBlock> list(String tenantId);

    /** Thrown by {@link #load} instead of reading an object that cannot be a block. */
    static final class OversizedBlockException extends RuntimeException {
        final long sizeBytes;

        OversizedBlockException(long sizeBytes) {
            super(null, null, false, false);
            this.sizeBytes = sizeBytes;
        }
    }
}

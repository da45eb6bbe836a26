package dev.sluice.blockstore;

import java.nio.ByteBuffer;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Content-addressed storage of block contents (DESIGN §2): a block is stored under the SHA-256 of its bytes,
 * within one tenant.
 *
 * <h2>Tenancy</h2>
 * Digests are namespaced per tenant: the key of a block is {@code (tenantId, digest)}. Identical blocks are stored
 * once per tenant (across all of its images and snapshots), never shared between tenants, so that one tenant can
 * neither learn whether another holds some content (a probe by digest) nor lose a block to another tenant's
 * garbage collection. A tenant id is a storage-key segment and is validated by {@link #requireTenantId}: 1 to 64
 * characters of {@code [a-z0-9_-]}, starting with a letter or digit (a lower-case UUID fits). Lower case only, so
 * that two tenants can never share a directory on a case-insensitive file system.
 *
 * <h2>Integrity</h2>
 * {@link #put} verifies that the bytes hash to the digest before anything is stored, and {@link #get} verifies the
 * stored bytes again before returning them: a block that was damaged at rest or in transit is never returned.
 * A corrupt block found by {@code get} is logged, counted and <em>quarantined</em> (moved out of the way, kept for
 * inspection), so that afterwards {@link #exists} is false and the next {@code put} of that digest stores it
 * afresh. (Without quarantine the idempotent put would keep the damaged copy forever.) In a rare race (a get
 * quarantines just after a concurrent put stored a good copy) a good copy can be quarantined too: the block then
 * reads as absent, which callers already handle by storing it again; bytes that fail verification are never
 * returned in any interleaving.
 *
 * <h2>What is not here</h2>
 * Policy stays with the callers: the store keeps any block it is given, including an all-zero one (DESIGN §2 says
 * zero blocks are not stored: the manifest writer skips them), and it does not know which blocks are referenced
 * (garbage collection compares {@link #blocks} with the manifests).
 *
 * <h2>Threads</h2>
 * Implementations are thread-safe. <strong>Every method may block</strong> (disk or network I/O): never call one
 * on a Vert.x event-loop thread; call it from a worker thread (e.g. {@code @Blocking}, {@code executeBlocking} or
 * a virtual thread). Failures of the underlying storage are reported as {@link BlockStoreException}; invalid
 * arguments (a bad tenant id, a block over {@link #MAX_BLOCK_SIZE}) as {@link IllegalArgumentException}.
 */
public interface BlockStore extends AutoCloseable {

    /**
     * The largest block this store accepts: 16 MiB, four times the largest block size an image may use. It also
     * bounds what {@code get} will read into memory: a stored object larger than this is corrupt by definition.
     */
    int MAX_BLOCK_SIZE = 16 * 1024 * 1024;

    /**
     * Stores the remaining bytes of {@code content} under {@code digest} for {@code tenantId}.
     *
     * <p>Idempotent: storing a digest that is already present is cheap and rewrites nothing. The bytes are copied
     * before they are verified, so a caller that changes its buffer afterwards cannot make the store keep bytes
     * other than the verified ones. The buffer's position and limit are not changed.
     *
     * <p>Durable on return: once {@code put} returns, the block survives a crash of this process or host (as far as
     * the backend guarantees: fsync for files, a successful PUT for S3).
     *
     * @return {@code true} if the block was absent when this call looked and it stored it, {@code false} if it was
     *         already present. Two concurrent puts of the same new block may both return {@code true}.
     * @throws DigestMismatchException if the bytes do not hash to {@code digest}; nothing is stored then
     * @throws IllegalArgumentException if {@code tenantId} is invalid or the block is larger than
     *         {@link #MAX_BLOCK_SIZE}
     */
    boolean put(String tenantId, BlockDigest digest, ByteBuffer content);

    /** {@link #put(String, BlockDigest, ByteBuffer)} of a whole array. */
    default boolean put(String tenantId, BlockDigest digest, byte[] content) {
        return put(tenantId, digest, ByteBuffer.wrap(content));
    }

    /**
     * A batch of puts that become durable together ({@link BlockBatch}); store work runs on {@code io}, at most
     * {@code inFlight} blocks at a time. The default puts each block on its own; the file store shares its syncs.
     */
    default BlockBatch batch(String tenantId, java.util.concurrent.Executor io, int inFlight) {
        requireTenantId(tenantId);
        return new BlockBatch.PutEach(this, tenantId, io, inFlight);
    }

    /**
     * The bytes of a stored block, verified against {@code digest}.
     *
     * @return a fresh array owned by the caller, or empty if the tenant has no such block
     * @throws CorruptBlockException if the stored bytes do not hash to {@code digest} (the block is then
     *         quarantined: see the class comment)
     */
    Optional<byte[]> get(String tenantId, BlockDigest digest);

    /** Whether the tenant has this block. Does not read or verify the contents. */
    boolean exists(String tenantId, BlockDigest digest);

    /** Removes the block if the tenant has it; does nothing otherwise. */
    void delete(String tenantId, BlockDigest digest);

    /**
     * The tenant's stored blocks, for garbage collection. Lazy and weakly consistent: blocks stored or deleted while
     * the stream is consumed may or may not appear. Quarantined blocks and unfinished writes never appear.
     *
     * <p>The stream holds I/O resources: close it (try-with-resources). Consuming it may block.
     *
     * <p>For a collector: a block that is in no manifest may still be about to be referenced (an upload that found
     * it present and skipped it, then commits its manifest). {@link StoredBlock#storedAt()} is when the block was
     * first stored and is not refreshed by a later idempotent {@code put}, so it cannot tell such a block apart; the
     * collector needs its own protection for digests of uploads in progress.
     */
    Stream<StoredBlock> blocks(String tenantId);

    /** Releases the store's resources (clients, connections). Does not delete anything. */
    @Override
    default void close() {
    }

    /** Pattern of a valid tenant id (see the class comment). */
    Pattern TENANT_ID = Pattern.compile("[a-z0-9][a-z0-9_-]{0,63}");

    /**
     * Returns {@code tenantId} if it is a valid tenant id.
     *
     * @throws IllegalArgumentException otherwise (the message does not echo the input)
     */
    static String requireTenantId(String tenantId) {
        if (tenantId == null || !TENANT_ID.matcher(tenantId).matches()) {
            throw new IllegalArgumentException("invalid tenant id: expected 1-64 characters of [a-z0-9_-]");
        }
        return tenantId;
    }
}

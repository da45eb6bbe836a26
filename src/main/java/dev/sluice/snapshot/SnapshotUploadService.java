package dev.sluice.snapshot;

import dev.sluice.blockstore.BlockBatch;
import dev.sluice.blockstore.BlockDigest;
import dev.sluice.blockstore.DigestMismatchException;
import dev.sluice.blockstore.BlockStore;
import dev.sluice.command.CommandService;
import dev.sluice.image.Image;
import dev.sluice.image.ImageState;
import dev.sluice.machine.Machine;
import dev.sluice.machine.MachineService;
import dev.sluice.operation.Operation;
import dev.sluice.platform.api.ResourceId;
import dev.sluice.platform.problem.ApiException;
import dev.sluice.platform.problem.ProblemType;
import io.quarkus.hibernate.orm.panache.Panache;
import io.quarkus.narayana.jta.QuarkusTransaction;
import org.hibernate.Session;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import jakarta.persistence.LockModeType;
import jakarta.transaction.Transactional;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Snapshots by acknowledged upload, server side (DESIGN §4). What is durable when:
 * <ul>
 * <li>a requested snapshot is an operation, an upload row and a command for the agent, written in one transaction;
 *     no snapshots row exists yet, so nothing half-made is ever visible through the API;</li>
 * <li>a received block is verified against its digest and stored (durable on return of {@code put}) before its
 *     {@code snapshot_blocks} row is written: a row means "durably received", and a resumed upload skips it;</li>
 * <li>the commit writes the new manifest blobs first (content-addressed, harmless if the commit then fails), then
 *     in ONE transaction creates the image, the snapshot and finishes the operation and the command. A retried
 *     commit finds the snapshot id on the upload row and returns the same acknowledgement.</li>
 * </ul>
 * All methods block (JDBC, block store): call from worker threads.
 */
@ApplicationScoped
public class SnapshotUploadService {
    public static final String KIND = "snapshot";
    /** Largest block batch body: the agent sends a few MiB at a time. */
    static final long MAX_BATCH_BYTES = 64L << 20;
    static final int FRAME_HEADER = 45;
    static final int FLAG_ZERO = 1;

    @Inject
    BlockStore store;
    @Inject
    MachineService machines;
    @Inject
    CommandService commands;
    @Inject
    SnapshotManifests manifests;

    /** Blocks of one batch verified and written at once (their syncs come together at the batch's commit). */
    static final int STORE_IN_FLIGHT = 8;
    /** Runs the store work of every batch being received (a few blocks per batch at a time), and the commit's manifest puts. */
    private final ExecutorService storeIo = Executors.newFixedThreadPool(STORE_IN_FLIGHT * 2, r -> {
        Thread t = new Thread(r, "sluice-snapshot-io-" + THREADS.incrementAndGet());
        t.setDaemon(true);
        return t;
    });
    private static final AtomicInteger THREADS = new AtomicInteger();

    @PreDestroy
    void stop() {
        storeIo.shutdownNow();
    }

    /** Requests a snapshot of a machine: the operation, the pending upload and the agent's command. */
    @Transactional
    public Operation request(String tenantId, String machineId, CreateSnapshotRequest request) {
        Machine m = machines.find(tenantId, machineId);
        if (Snapshot.count("tenantId = ?1 and name = ?2", tenantId, request.name()) > 0
                || SnapshotUpload.count("tenantId = ?1 and name = ?2", tenantId, request.name()) > 0) {
            throw ApiException.field(ProblemType.ALREADY_EXISTS, "name", "a snapshot named '" + request.name() + "' exists in this tenant");
        }
        boolean busy = request.target() == null
                ? SnapshotUpload.count("tenantId = ?1 and machineId = ?2 and target is null and snapshotId is null", tenantId, m.id) > 0
                : SnapshotUpload.count("tenantId = ?1 and machineId = ?2 and target = ?3 and snapshotId is null", tenantId, m.id, request.target()) > 0;
        if (busy) {
            throw new ApiException(ProblemType.CONFLICT, "a snapshot of this machine to this target is still in progress; wait for its operation");
        }
        Image image = Image.findById(m.imageId);
        Instant now = Instant.now();
        Operation op = new Operation();
        op.id = ResourceId.OPERATION.next();
        op.tenantId = tenantId;
        op.kind = KIND;
        op.targetId = m.id;
        op.done = false;
        op.progress = "{\"phase\":\"waiting-for-agent\"}";
        op.createdAt = now;
        op.updatedAt = now;
        op.persist();
        SnapshotUpload u = new SnapshotUpload();
        u.operationId = op.id;
        u.tenantId = tenantId;
        u.machineId = m.id;
        u.name = request.name();
        u.target = request.target();
        u.baseImageId = image.id;
        u.sizeBytes = image.sizeBytes;
        u.blockSize = image.blockSize;
        u.createdAt = now;
        u.updatedAt = now;
        u.persist();
        String payload = "{\"name\":\"" + request.name() + "\"" + (request.target() == null ? "" : ",\"target\":\"" + request.target() + "\"") + "}";
        commands.issue(tenantId, m.id, op.id, KIND, payload);
        Panache.getEntityManager().flush();
        return op;
    }

    @Transactional
    public SnapshotUploadView view(String tenantId, String machineId, String operationId) {
        SnapshotUpload u = find(tenantId, machineId, operationId, LockModeType.NONE);
        List<Long> received = u.snapshotId != null ? List.of() : received(u.operationId).indexList();
        return new SnapshotUploadView(u.operationId, u.name, u.target, u.cutBlocks, u.blocksReceived, u.bytesReceived, received, u.snapshotId);
    }

    /** The agent reports its cut (idempotent; a different count for the same operation is a conflict). */
    @Transactional
    public SnapshotUploadView declareCut(String tenantId, String machineId, String operationId, long cutBlocks) {
        SnapshotUpload u = find(tenantId, machineId, operationId, LockModeType.PESSIMISTIC_WRITE);
        if (cutBlocks > u.blockCount()) {
            throw ApiException.field(ProblemType.VALIDATION, "cutBlocks", "must be at most the disk's block count " + u.blockCount());
        }
        if (u.cutBlocks != null && u.cutBlocks != cutBlocks) {
            throw new ApiException(ProblemType.CONFLICT, "this upload's cut has " + u.cutBlocks + " blocks");
        }
        if (u.cutBlocks == null && u.snapshotId == null) {
            u.cutBlocks = cutBlocks;
            u.updatedAt = Instant.now();
            progress(u);
        }
        return view(tenantId, machineId, operationId);
    }

    /** What a batch needs of its upload, read without an entity (one indexed query). */
    private record UploadHead(String tenantId, String machineId, String snapshotId, long sizeBytes, int blockSize) {
        long blockCount() {
            return (sizeBytes + blockSize - 1) / blockSize;
        }

        int blockLength(long index) {
            return (int) Math.min(blockSize, sizeBytes - index * blockSize);
        }
    }

    /**
     * Verifies, stores and records a batch of framed blocks (the wire format of block runs,
     * docs/block-protocol.md). Nothing of a request with a bad frame is recorded.
     *
     * <p>Per batch: one query for the upload, the frames read and their blocks stored a few at a time on this
     * service's pool (the store's put verifies each block's digest: one SHA-256 per block), then one transaction
     * that writes ONE row for the whole batch (its indices and digests packed) and the progress. A batch is answered
     * only after that commit, so an answered batch is durable and recorded, and a resumed upload skips its blocks.
     */
    public Received receive(String tenantId, String machineId, String operationId, InputStream body, Long contentLength, Long cutBlocks) {
        if (contentLength != null && contentLength > MAX_BATCH_BYTES) {
            throw new ApiException(ProblemType.PAYLOAD_TOO_LARGE, "a block batch is at most " + MAX_BATCH_BYTES + " bytes");
        }
        UploadHead u = head(tenantId, machineId, operationId);
        if (u.snapshotId() != null) {
            throw new ApiException(ProblemType.CONFLICT, "the snapshot is already committed; complete the upload to get its acknowledgement");
        }
        if (cutBlocks != null && cutBlocks > u.blockCount()) {
            throw ApiException.field(ProblemType.INVALID_PARAMETER, "cutBlocks", "must be at most the disk's block count " + u.blockCount());
        }
        int cap = 64;
        long[] indices = new long[cap];
        BlockDigest[] digests = new BlockDigest[cap];
        int[] lengths = new int[cap];
        int n = 0;
        long bytes = 0;
        DataInputStream in = new DataInputStream(body);
        byte[] digest = new byte[BlockDigest.LENGTH];
        // Blocks are verified (the store hashes them: one SHA-256 per block) and written on this service's pool while
        // the next frames are read; the batch's commit makes them all durable together (a file store syncs the
        // files, renames them, then syncs each directory once) before the batch is recorded.
        BlockBatch puts = store.batch(tenantId, storeIo, STORE_IN_FLIGHT);
        boolean[] fresh;
        try {
            while (true) {
                long index;
                try {
                    index = in.readLong();
                } catch (EOFException end) {
                    break;
                }
                int flags = in.readUnsignedByte();
                int length = in.readInt();
                in.readFully(digest);
                bytes += FRAME_HEADER;
                int frame = n;
                if (index < 0 || index >= u.blockCount()) {
                    throw bad("frame " + frame + ": block index " + index + " is outside the disk (0.." + (u.blockCount() - 1) + ")");
                }
                if (n == cap) {
                    cap *= 2;
                    indices = java.util.Arrays.copyOf(indices, cap);
                    digests = java.util.Arrays.copyOf(digests, cap);
                    lengths = java.util.Arrays.copyOf(lengths, cap);
                }
                if (flags == FLAG_ZERO) {
                    if (length != 0) {
                        throw bad("frame " + frame + ": a zero block carries no bytes");
                    }
                    indices[n] = index;
                    digests[n] = null;
                    lengths[n++] = 0;
                    continue;
                }
                if (flags != 0 || length != u.blockLength(index)) {
                    throw bad("frame " + frame + ": block " + index + " must carry " + u.blockLength(index) + " bytes and flags 0 or 1");
                }
                bytes += length;
                if (bytes > MAX_BATCH_BYTES) {
                    throw new ApiException(ProblemType.PAYLOAD_TOO_LARGE, "a block batch is at most " + MAX_BATCH_BYTES + " bytes");
                }
                byte[] data = new byte[length];
                in.readFully(data);
                BlockDigest claimed = BlockDigest.fromBytes(digest);
                indices[n] = index;
                digests[n] = claimed;
                lengths[n++] = length;
                puts.add(claimed, data);
            }
            fresh = puts.commit();
        } catch (DigestMismatchException e) {
            puts.abandon();
            throw bad(mismatch(indices, digests, n, e.expected()));
        } catch (EOFException e) {
            puts.abandon();
            throw bad("the body ends inside a frame");
        } catch (IOException e) {
            puts.abandon();
            throw new ApiException(ProblemType.MALFORMED_REQUEST, "the body could not be read: " + e.getMessage());
        } catch (RuntimeException e) {
            puts.abandon();
            throw e;
        }
        // newBlocks/newBytes: blocks this batch stored afresh, each digest counted once
        long newBlocks = 0;
        long newBytes = 0;
        Set<BlockDigest> counted = new java.util.HashSet<>();
        for (int i = 0, k = 0; i < n; i++) {
            if (digests[i] != null && fresh[k++] && counted.add(digests[i])) {
                newBlocks++;
                newBytes += lengths[i];
            }
        }
        byte[] entries = ReceivedSet.pack(indices, digests, n);
        int frames = n;
        long total = bytes;
        long nb = newBlocks;
        long nB = newBytes;
        long soFar = QuarkusTransaction.requiringNew().call(() -> record(tenantId, operationId, frames, entries, total, nb, nB, cutBlocks));
        return new Received(new ReceivedBlocks(frames, frames, total, null), soFar);
    }

    /** A recorded batch: its answer, and the frames the upload has recorded so far, this batch's included. */
    public record Received(ReceivedBlocks answer, long framesSoFar) {
    }

    private static String mismatch(long[] indices, BlockDigest[] digests, int n, BlockDigest claimed) {
        for (int i = 0; i < n; i++) {
            if (claimed.equals(digests[i])) {
                return "frame " + i + ": block " + indices[i] + " does not match its digest";
            }
        }
        return "a block does not match its digest";
    }

    private UploadHead head(String tenantId, String machineId, String operationId) {
        UploadHead u = QuarkusTransaction.requiringNew().call(() -> jdbc(c -> {
            try (PreparedStatement q = c.prepareStatement(
                    "SELECT tenant_id, machine_id, snapshot_id, size_bytes, block_size FROM snapshot_uploads WHERE operation_id = ?")) {
                q.setString(1, operationId);
                try (ResultSet r = q.executeQuery()) {
                    return r.next() ? new UploadHead(r.getString(1), r.getString(2), r.getString(3), r.getLong(4), r.getInt(5)) : null;
                }
            }
        }));
        if (u == null || !u.tenantId().equals(tenantId) || !u.machineId().equals(machineId)) {
            QuarkusTransaction.requiringNew().run(() -> find(tenantId, machineId, operationId, LockModeType.NONE)); // 404 or 409, as find decides
            throw ApiException.notFound("snapshot upload " + operationId);
        }
        return u;
    }

    /**
     * One batch's record, plain JDBC in the caller's transaction: lock the upload row (batches of one upload and its
     * commit serialize here), refuse if committed, insert the batch row, count the progress. A batch that names the
     * cut declares it when nothing did yet (as the PUT does; a fresh cut's first batches go out without that round
     * trip); a different count than the one declared is left to the commit to refuse. Returns the frames recorded so
     * far (resent blocks counted again).
     */
    private long record(String tenantId, String operationId, int frames, byte[] entries, long bytes, long newBlocks, long newBytes,
                        Long namedCut) {
        return jdbc(c -> {
            long blocksReceived;
            long bytesReceived;
            long resent;
            long nb;
            long nB;
            long batches;
            Long cut;
            try (PreparedStatement q = c.prepareStatement("SELECT snapshot_id, blocks_received, bytes_received, blocks_resent, new_blocks, new_bytes,"
                    + " batches, cut_blocks FROM snapshot_uploads WHERE operation_id = ? FOR UPDATE")) {
                q.setString(1, operationId);
                try (ResultSet r = q.executeQuery()) {
                    if (!r.next()) {
                        throw ApiException.notFound("snapshot upload " + operationId);
                    }
                    if (r.getString(1) != null) {
                        throw new ApiException(ProblemType.CONFLICT, "the snapshot is already committed");
                    }
                    blocksReceived = r.getLong(2) + frames;
                    bytesReceived = r.getLong(3) + bytes;
                    resent = r.getLong(4);
                    nb = r.getLong(5) + newBlocks;
                    nB = r.getLong(6) + newBytes;
                    batches = r.getLong(7) + 1;
                    long cb = r.getLong(8);
                    cut = r.wasNull() ? namedCut : cb;
                }
            }
            if (frames > 0) {
                try (PreparedStatement ins = c.prepareStatement(
                        "INSERT INTO snapshot_batches (operation_id, seq, tenant_id, frames, entries) VALUES (?, ?, ?, ?, ?)")) {
                    ins.setString(1, operationId);
                    ins.setLong(2, batches);
                    ins.setString(3, tenantId);
                    ins.setInt(4, frames);
                    ins.setBytes(5, entries);
                    ins.executeUpdate();
                }
            }
            java.time.OffsetDateTime now = java.time.OffsetDateTime.now(java.time.ZoneOffset.UTC);
            try (PreparedStatement up = c.prepareStatement("UPDATE snapshot_uploads SET blocks_received = ?, bytes_received = ?, new_blocks = ?,"
                    + " new_bytes = ?, batches = ?, cut_blocks = ?, updated_at = ?, version = version + 1 WHERE operation_id = ?")) {
                up.setLong(1, blocksReceived);
                up.setLong(2, bytesReceived);
                up.setLong(3, nb);
                up.setLong(4, nB);
                up.setLong(5, batches);
                if (cut == null) {
                    up.setNull(6, java.sql.Types.BIGINT);
                } else {
                    up.setLong(6, cut);
                }
                up.setObject(7, now);
                up.setString(8, operationId);
                up.executeUpdate();
            }
            try (PreparedStatement op = c.prepareStatement("UPDATE operations SET progress = ?, updated_at = ?, version = version + 1 WHERE id = ?")) {
                op.setString(1, progressJson(cut == null ? "cutting" : "uploading", cut, blocksReceived, bytesReceived, resent, nb, nB));
                op.setObject(2, now);
                op.setString(3, operationId);
                op.executeUpdate();
            }
            return blocksReceived;
        });
    }

    private interface SqlWork<T> {
        T run(java.sql.Connection c) throws java.sql.SQLException;
    }

    /** Runs plain JDBC on the current transaction's connection (flushing Hibernate's pending changes first). */
    private static <T> T jdbc(SqlWork<T> work) {
        EntityManager em = Panache.getEntityManager();
        em.flush();
        return em.unwrap(Session.class).doReturningWork(work::run);
    }

    /**
     * Digests (hex) of the blocks that uploads of the tenant received but have not committed yet: garbage collection
     * must keep them. Call in a transaction.
     */
    public static List<String> pendingDigests(String tenantId) {
        return jdbc(c -> {
            List<String> out = new ArrayList<>();
            try (PreparedStatement q = c.prepareStatement("SELECT digest FROM snapshot_blocks WHERE tenant_id = ? AND digest IS NOT NULL")) {
                q.setString(1, tenantId);
                try (ResultSet r = q.executeQuery()) {
                    while (r.next()) {
                        out.add(r.getString(1));
                    }
                }
            }
            try (PreparedStatement q = c.prepareStatement("SELECT entries FROM snapshot_batches WHERE tenant_id = ?")) {
                q.setString(1, tenantId);
                try (ResultSet r = q.executeQuery()) {
                    while (r.next()) {
                        ReceivedSet batch = new ReceivedSet.Builder().addBatch(r.getBytes(1)).build();
                        for (int i = 0; i < batch.size(); i++) {
                            BlockDigest d = batch.digest(i);
                            if (d != null) {
                                out.add(d.hex());
                            }
                        }
                    }
                }
            }
            return out;
        });
    }

    /** What the upload durably received: its batch rows in order, after any per-block rows of an older server. */
    private static ReceivedSet received(String operationId) {
        return jdbc(c -> {
            ReceivedSet.Builder b = new ReceivedSet.Builder();
            try (PreparedStatement q = c.prepareStatement("SELECT block_index, digest FROM snapshot_blocks WHERE operation_id = ?")) {
                q.setString(1, operationId);
                try (ResultSet r = q.executeQuery()) {
                    while (r.next()) {
                        b.addBlock(r.getLong(1), r.getString(2));
                    }
                }
            }
            try (PreparedStatement q = c.prepareStatement("SELECT entries FROM snapshot_batches WHERE operation_id = ? ORDER BY seq")) {
                q.setString(1, operationId);
                try (ResultSet r = q.executeQuery()) {
                    while (r.next()) {
                        b.addBatch(r.getBytes(1));
                    }
                }
            }
            return b.build();
        });
    }

    /**
     * Commits the snapshot if the server holds exactly the agent's cut, then returns the acknowledgement. A retry
     * after the commit returns the same acknowledgement and changes nothing.
     */
    @Transactional
    public SnapshotAck complete(String tenantId, String machineId, String operationId, CompleteUploadRequest request) {
        SnapshotUpload u = find(tenantId, machineId, operationId, LockModeType.PESSIMISTIC_WRITE);
        if (u.snapshotId != null) {
            Snapshot done = Snapshot.findById(u.snapshotId);
            return new SnapshotAck(operationId, done.id, done.imageId, u.cutBlocks == null ? request.cutBlocks() : u.cutBlocks);
        }
        if (u.cutBlocks != null && !u.cutBlocks.equals(request.cutBlocks())) {
            throw new ApiException(ProblemType.CONFLICT, "this upload's cut has " + u.cutBlocks + " blocks, not " + request.cutBlocks());
        }
        ReceivedSet received = received(operationId);
        if (received.size() != request.cutBlocks() || !received.cutDigest().equals(request.cutDigest())) {
            throw new ApiException(ProblemType.CONFLICT, "the server holds " + received.size() + " blocks of this upload, not the "
                    + request.cutBlocks() + " blocks of the cut; ask which are received (GET the upload) and send the rest");
        }
        // Batches count frames; a block sent twice (a resend) is one block of the snapshot.
        u.blocksResent += received.frames() - received.size();
        u.blocksReceived = received.size();
        Snapshot parent = latestSnapshot(tenantId, u.machineId, u.target);
        Image parentImage = Image.findById(parent == null ? u.baseImageId : parent.imageId);
        if (parentImage == null || parentImage.manifestDigest == null || parentImage.sizeBytes != u.sizeBytes || parentImage.blockSize != u.blockSize) {
            throw new ApiException(ProblemType.CONFLICT, "the snapshot's parent image is gone or has another geometry");
        }
        SnapshotManifests.Built built = manifests.apply(tenantId, parentImage, received, storeIo);
        Instant now = Instant.now();
        Snapshot s = new Snapshot();
        s.id = ResourceId.SNAPSHOT.next();
        Image image = new Image();
        image.id = ResourceId.IMAGE.next();
        image.tenantId = tenantId;
        image.name = s.id.replace('_', '-');
        image.description = "snapshot " + u.name + " of machine " + u.machineId;
        image.sizeBytes = u.sizeBytes;
        image.blockSize = u.blockSize;
        image.state = ImageState.AVAILABLE;
        image.parentImageId = parentImage.id;
        image.manifestDigest = built.manifest().hex();
        image.receivedBytes = u.sizeBytes;
        image.zeroBlocks = built.zeroBlocks();
        image.dataBlocks = u.blockCount() - built.zeroBlocks();
        image.newBlocks = u.newBlocks;
        image.newBytes = u.newBytes;
        image.createdAt = now;
        image.updatedAt = now;
        image.persist();
        s.tenantId = tenantId;
        s.name = u.name;
        s.machineId = u.machineId;
        s.imageId = image.id;
        s.operationId = operationId;
        s.target = u.target;
        s.state = SnapshotState.READY;
        s.createdAt = now;
        s.updatedAt = now;
        s.persist();
        u.snapshotId = s.id;
        u.cutBlocks = request.cutBlocks();
        u.updatedAt = now;
        Operation op = Operation.findById(operationId);
        op.done = true;
        op.result = "{\"snapshotId\":\"" + s.id + "\",\"imageId\":\"" + image.id + "\"}";
        op.progress = progressJson(u, "committed");
        op.updatedAt = now;
        commands.completeFor(tenantId, operationId);
        SnapshotBlock.delete("operationId", operationId);
        jdbc(c -> {
            try (PreparedStatement d = c.prepareStatement("DELETE FROM snapshot_batches WHERE operation_id = ?")) {
                d.setString(1, operationId);
                return d.executeUpdate();
            }
        });
        Panache.getEntityManager().flush();
        return new SnapshotAck(operationId, s.id, image.id, request.cutBlocks());
    }

    /** The latest committed snapshot of the machine to the target (null target = the repository), or null. */
    static Snapshot latestSnapshot(String tenantId, String machineId, String target) {
        var q = target == null
                ? Snapshot.<Snapshot>find("tenantId = ?1 and machineId = ?2 and target is null and state = ?3 order by createdAt desc, id desc",
                        tenantId, machineId, SnapshotState.READY)
                : Snapshot.<Snapshot>find("tenantId = ?1 and machineId = ?2 and target = ?3 and state = ?4 order by createdAt desc, id desc",
                        tenantId, machineId, target, SnapshotState.READY);
        return q.firstResult();
    }

    private static void progress(SnapshotUpload u) {
        Operation op = Operation.findById(u.operationId);
        op.progress = progressJson(u, u.cutBlocks == null ? "cutting" : "uploading");
        op.updatedAt = Instant.now();
    }

    private static String progressJson(SnapshotUpload u, String phase) {
        return progressJson(phase, u.cutBlocks, u.blocksReceived, u.bytesReceived, u.blocksResent, u.newBlocks, u.newBytes);
    }

    private static String progressJson(String phase, Long cutBlocks, long blocksReceived, long bytesReceived, long blocksResent, long newBlocks,
                                       long newBytes) {
        return "{\"phase\":\"" + phase + "\"" + (cutBlocks == null ? "" : ",\"blocksTotal\":" + cutBlocks)
                + ",\"blocksSent\":" + blocksReceived + ",\"bytesSent\":" + bytesReceived + ",\"blocksResent\":" + blocksResent
                + ",\"newBlocks\":" + newBlocks + ",\"newBytes\":" + newBytes + "}";
    }

    private static SnapshotUpload find(String tenantId, String machineId, String operationId, LockModeType lock) {
        SnapshotUpload u = SnapshotUpload.findById(operationId, lock);
        if (u == null || !u.tenantId.equals(tenantId) || !u.machineId.equals(machineId)) {
            if (Operation.count("id = ?1 and tenantId = ?2 and targetId = ?3", operationId, tenantId, machineId) > 0) {
                throw new ApiException(ProblemType.CONFLICT, "operation " + operationId + " is not a snapshot upload");
            }
            throw ApiException.notFound("snapshot upload " + operationId);
        }
        return u;
    }

    private static ApiException bad(String detail) {
        return new ApiException(ProblemType.MALFORMED_REQUEST, detail);
    }
}

package dev.sluice.snapshot;

import dev.sluice.blockstore.BlockDigest;
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
import java.sql.Types;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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

    /** Runs the block puts of every batch being received (StorePipeline: a few per batch at a time). */
    private final ExecutorService storeIo = Executors.newFixedThreadPool(StorePipeline.MAX_IN_FLIGHT * 2, r -> {
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
        List<Long> received = u.snapshotId != null ? List.of()
                : SnapshotBlock.<SnapshotBlock>find("operationId = ?1 order by blockIndex", u.operationId).stream().map(b -> b.blockIndex).toList();
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

    private record Frame(long index, BlockDigest digest, int length) {
    }

    /**
     * Verifies, stores and records a batch of framed blocks (the wire format of block runs,
     * docs/block-protocol.md). Nothing of a request with a bad frame is recorded.
     */
    public ReceivedBlocks receive(String tenantId, String machineId, String operationId, InputStream body, Long contentLength) {
        if (contentLength != null && contentLength > MAX_BATCH_BYTES) {
            throw new ApiException(ProblemType.PAYLOAD_TOO_LARGE, "a block batch is at most " + MAX_BATCH_BYTES + " bytes");
        }
        SnapshotUpload u = QuarkusTransaction.requiringNew().call(() -> find(tenantId, machineId, operationId, LockModeType.NONE));
        if (u.snapshotId != null) {
            throw new ApiException(ProblemType.CONFLICT, "the snapshot is already committed; complete the upload to get its acknowledgement");
        }
        List<Frame> frames = new ArrayList<>();
        long bytes = 0;
        DataInputStream in = new DataInputStream(body);
        byte[] digest = new byte[BlockDigest.LENGTH];
        // Puts run on this service's pool, a few at a time, while the next frames are read: a file store fsyncs every
        // block (and its directory), and one fsync after the other is what made this endpoint slow.
        StorePipeline puts = new StorePipeline(store, tenantId, storeIo);
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
                if (index < 0 || index >= u.blockCount()) {
                    throw bad("frame " + frames.size() + ": block index " + index + " is outside the disk (0.." + (u.blockCount() - 1) + ")");
                }
                if (flags == FLAG_ZERO) {
                    if (length != 0) {
                        throw bad("frame " + frames.size() + ": a zero block carries no bytes");
                    }
                    frames.add(new Frame(index, null, length));
                    continue;
                }
                if (flags != 0 || length != u.blockLength(index)) {
                    throw bad("frame " + frames.size() + ": block " + index + " must carry " + u.blockLength(index) + " bytes and flags 0 or 1");
                }
                bytes += length;
                if (bytes > MAX_BATCH_BYTES) {
                    throw new ApiException(ProblemType.PAYLOAD_TOO_LARGE, "a block batch is at most " + MAX_BATCH_BYTES + " bytes");
                }
                byte[] data = new byte[length];
                in.readFully(data);
                BlockDigest claimed = BlockDigest.fromBytes(digest);
                if (!BlockDigest.of(data).equals(claimed)) {
                    throw bad("frame " + frames.size() + ": block " + index + " does not match its digest");
                }
                frames.add(new Frame(index, claimed, length));
                puts.put(claimed, data);
            }
            puts.awaitAll();
        } catch (EOFException e) {
            throw bad("the body ends inside a frame");
        } catch (IOException e) {
            throw new ApiException(ProblemType.MALFORMED_REQUEST, "the body could not be read: " + e.getMessage());
        } finally {
            puts.cancelRest();
        }
        long total = bytes;
        Set<BlockDigest> fresh = puts.stored();
        long added = QuarkusTransaction.requiringNew().call(() -> record(tenantId, machineId, operationId, frames, fresh, total));
        return new ReceivedBlocks(frames.size(), added, total);
    }

    private long record(String tenantId, String machineId, String operationId, List<Frame> frames, Set<BlockDigest> stored, long bytes) {
        SnapshotUpload u = find(tenantId, machineId, operationId, LockModeType.PESSIMISTIC_WRITE);
        if (u.snapshotId != null) {
            throw new ApiException(ProblemType.CONFLICT, "the snapshot is already committed");
        }
        // One query for the rows this batch already has (a resent block), and the new rows in one JDBC batch rather
        // than a lookup and a Hibernate persist per received block (up to 64 per batch, 16 384 per GiB).
        Map<Long, SnapshotBlock> existing = new HashMap<>();
        List<Long> indices = frames.stream().map(Frame::index).toList();
        if (!indices.isEmpty()) {
            SnapshotBlock.<SnapshotBlock>list("operationId = ?1 and blockIndex in ?2", operationId, indices)
                    .forEach(b -> existing.put(b.blockIndex, b));
        }
        Map<Long, Frame> fresh = new java.util.LinkedHashMap<>();
        for (Frame f : frames) {
            SnapshotBlock row = existing.get(f.index());
            if (row != null) {
                row.digest = f.digest() == null ? null : f.digest().hex();
                u.blocksResent++;
            } else if (fresh.put(f.index(), f) != null) {
                u.blocksResent++; // the same block twice in one batch: the last frame wins, as with a resend
            }
            if (f.digest() != null && stored.remove(f.digest())) {
                u.newBlocks++;
                u.newBytes += f.length();
            }
        }
        insertRows(tenantId, operationId, fresh.values());
        long added = fresh.size();
        u.blocksReceived += added;
        u.bytesReceived += bytes;
        u.updatedAt = Instant.now();
        progress(u);
        return added;
    }

    /** Inserts snapshot_blocks rows (in the caller's transaction) as one JDBC batch. */
    private static void insertRows(String tenantId, String operationId, java.util.Collection<Frame> frames) {
        if (frames.isEmpty()) {
            return;
        }
        EntityManager em = Panache.getEntityManager();
        em.flush(); // the upload row's lock and any pending entity changes go first
        em.unwrap(Session.class).doWork(connection -> {
            try (PreparedStatement insert = connection.prepareStatement(
                    "INSERT INTO snapshot_blocks (operation_id, tenant_id, block_index, digest) VALUES (?, ?, ?, ?)")) {
                for (Frame f : frames) {
                    insert.setString(1, operationId);
                    insert.setString(2, tenantId);
                    insert.setLong(3, f.index());
                    if (f.digest() == null) {
                        insert.setNull(4, Types.VARCHAR);
                    } else {
                        insert.setString(4, f.digest().hex());
                    }
                    insert.addBatch();
                }
                insert.executeBatch();
            }
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
        List<SnapshotBlock> received = SnapshotBlock.list("operationId = ?1 order by blockIndex", operationId);
        if (received.size() != request.cutBlocks() || !cutDigest(received).equals(request.cutDigest())) {
            throw new ApiException(ProblemType.CONFLICT, "the server holds " + received.size() + " blocks of this upload, not the "
                    + request.cutBlocks() + " blocks of the cut; ask which are received (GET the upload) and send the rest");
        }
        Snapshot parent = latestSnapshot(tenantId, u.machineId, u.target);
        Image parentImage = Image.findById(parent == null ? u.baseImageId : parent.imageId);
        if (parentImage == null || parentImage.manifestDigest == null || parentImage.sizeBytes != u.sizeBytes || parentImage.blockSize != u.blockSize) {
            throw new ApiException(ProblemType.CONFLICT, "the snapshot's parent image is gone or has another geometry");
        }
        SnapshotManifests.Built built = manifests.apply(tenantId, parentImage, received);
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

    /** SHA-256 (hex) of the sorted block indices as 8-byte big-endian integers: the cut's identity. */
    static String cutDigest(List<SnapshotBlock> sorted) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(sorted.size() * 8);
        for (SnapshotBlock s : sorted) {
            b.putLong(s.blockIndex);
        }
        return BlockDigest.of(b.array()).hex();
    }

    private static void progress(SnapshotUpload u) {
        Operation op = Operation.findById(u.operationId);
        op.progress = progressJson(u, u.cutBlocks == null ? "cutting" : "uploading");
        op.updatedAt = Instant.now();
    }

    private static String progressJson(SnapshotUpload u, String phase) {
        return "{\"phase\":\"" + phase + "\"" + (u.cutBlocks == null ? "" : ",\"blocksTotal\":" + u.cutBlocks)
                + ",\"blocksSent\":" + u.blocksReceived + ",\"bytesSent\":" + u.bytesReceived + ",\"blocksResent\":" + u.blocksResent
                + ",\"newBlocks\":" + u.newBlocks + ",\"newBytes\":" + u.newBytes + "}";
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

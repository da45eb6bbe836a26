package dev.sluice.snapshot;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import jakarta.persistence.Version;
import java.time.Instant;

/** A requested snapshot while its agent uploads it; after the commit it names the snapshot (for retried acks). */
@Entity
@Table(name = "snapshot_uploads")
public class SnapshotUpload extends PanacheEntityBase {
    @Id
    @Column(name = "operation_id")
    public String operationId;
    @Column(name = "tenant_id")
    public String tenantId;
    @Column(name = "machine_id")
    public String machineId;
    public String name;
    public String target;
    @Column(name = "base_image_id")
    public String baseImageId;
    @Column(name = "size_bytes")
    public long sizeBytes;
    @Column(name = "block_size")
    public int blockSize;
    @Column(name = "cut_blocks")
    public Long cutBlocks;
    @Column(name = "blocks_received")
    public long blocksReceived;
    @Column(name = "blocks_resent")
    public long blocksResent;
    @Column(name = "bytes_received")
    public long bytesReceived;
    @Column(name = "new_blocks")
    public long newBlocks;
    @Column(name = "new_bytes")
    public long newBytes;
    @Column(name = "snapshot_id")
    public String snapshotId;
    @Column(name = "created_at")
    public Instant createdAt;
    @Column(name = "updated_at")
    public Instant updatedAt;
    /** Batch rows recorded so far (snapshot_batches.seq of the last one). */
    public long batches;
    @Version
    public long version;

    public long blockCount() {
        return (sizeBytes + blockSize - 1) / blockSize;
    }

    public int blockLength(long index) {
        return (int) Math.min(blockSize, sizeBytes - index * blockSize);
    }
}

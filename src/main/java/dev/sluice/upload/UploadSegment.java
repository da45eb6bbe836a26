package dev.sluice.upload;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.IdClass;
import jakarta.persistence.Table;
import java.io.Serializable;
import java.time.Instant;
import java.util.Objects;

/** A durably recorded manifest segment of an upload in progress (see V2 migration). */
@Entity
@Table(name = "upload_segments")
@IdClass(UploadSegment.Key.class)
public class UploadSegment extends PanacheEntityBase {
    @Id
    @Column(name = "image_id")
    public String imageId;
    @Id
    @Column(name = "segment_no")
    public int segmentNo;
    @Column(name = "tenant_id")
    public String tenantId;
    public int entries;
    public String digest;
    @Column(name = "zero_blocks")
    public int zeroBlocks;
    @Column(name = "new_blocks")
    public int newBlocks;
    @Column(name = "new_bytes")
    public long newBytes;
    @Column(name = "updated_at")
    public Instant updatedAt;

    /** A detached copy, to restore a rolled-back part exactly. */
    public UploadSegment copy() {
        UploadSegment c = new UploadSegment();
        c.imageId = imageId;
        c.segmentNo = segmentNo;
        c.tenantId = tenantId;
        c.entries = entries;
        c.digest = digest;
        c.zeroBlocks = zeroBlocks;
        c.newBlocks = newBlocks;
        c.newBytes = newBytes;
        c.updatedAt = updatedAt;
        return c;
    }

    public static class Key implements Serializable {
        public String imageId;
        public int segmentNo;

        public Key() {
        }

        public Key(String imageId, int segmentNo) {
            this.imageId = imageId;
            this.segmentNo = segmentNo;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && k.imageId.equals(imageId) && k.segmentNo == segmentNo;
        }

        @Override
        public int hashCode() {
            return Objects.hash(imageId, segmentNo);
        }
    }
}

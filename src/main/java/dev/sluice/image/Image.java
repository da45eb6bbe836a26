package dev.sluice.image;

import dev.sluice.platform.api.LabelsConverter;
import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Convert;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import jakarta.persistence.Version;
import java.time.Instant;
import java.util.Map;
import java.util.TreeMap;

@Entity
@Table(name = "images")
public class Image extends PanacheEntityBase {
    @Id
    public String id;
    @Column(name = "tenant_id")
    public String tenantId;
    public String name;
    public String description;
    @Convert(converter = LabelsConverter.class)
    public Map<String, String> labels = new TreeMap<>();
    @Column(name = "size_bytes")
    public long sizeBytes;
    @Column(name = "block_size")
    public int blockSize;
    @Enumerated(EnumType.STRING)
    public ImageState state;
    @Column(name = "parent_image_id")
    public String parentImageId;
    /** The committed manifest blob (hex SHA-256) once AVAILABLE. */
    @Column(name = "manifest_digest")
    public String manifestDigest;
    /** Upload progress: bytes from offset 0 whose blocks are durably stored and recorded. */
    @Column(name = "received_bytes")
    public long receivedBytes;
    @Column(name = "zero_blocks")
    public Long zeroBlocks;
    @Column(name = "data_blocks")
    public Long dataBlocks;
    /** Blocks this image's upload stored first (not already in the tenant's repository). */
    @Column(name = "new_blocks")
    public Long newBlocks;
    @Column(name = "new_bytes")
    public Long newBytes;
    @Column(name = "created_at")
    public Instant createdAt;
    @Column(name = "updated_at")
    public Instant updatedAt;
    @Version
    public long version;

    public long blockCount() {
        return (sizeBytes + blockSize - 1) / blockSize;
    }

    /** Bytes in block {@code index}: blockSize, except a shorter last block. */
    public int blockLength(long index) {
        return (int) Math.min(blockSize, sizeBytes - index * blockSize);
    }
}

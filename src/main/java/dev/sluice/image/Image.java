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
    @Column(name = "created_at")
    public Instant createdAt;
    @Column(name = "updated_at")
    public Instant updatedAt;
    @Version
    public long version;

    public long blockCount() {
        return (sizeBytes + blockSize - 1) / blockSize;
    }
}

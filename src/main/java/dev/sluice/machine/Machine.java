package dev.sluice.machine;

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
@Table(name = "machines")
public class Machine extends PanacheEntityBase {
    @Id
    public String id;
    @Column(name = "tenant_id")
    public String tenantId;
    public String name;
    public String mac;
    @Column(name = "image_id")
    public String imageId;
    @Convert(converter = LabelsConverter.class)
    public Map<String, String> labels = new TreeMap<>();
    @Enumerated(EnumType.STRING)
    public MachineState state;

    // Hydration progress, reported by the machine's agent (null until it first reports).
    @Column(name = "hydration_state")
    public String hydrationState;
    @Column(name = "present_blocks")
    public Long presentBlocks;
    @Column(name = "total_blocks")
    public Long totalBlocks;
    @Column(name = "dirty_blocks")
    public Long dirtyBlocks;
    @Column(name = "bytes_fetched")
    public Long bytesFetched;
    @Column(name = "fetch_rate_bps")
    public Long fetchRateBytesPerSecond;
    @Column(name = "hydration_updated_at")
    public Instant hydrationUpdatedAt;

    @Column(name = "created_at")
    public Instant createdAt;
    @Column(name = "updated_at")
    public Instant updatedAt;
    @Version
    public long version;
}

package dev.sluice.snapshot;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import jakarta.persistence.Version;
import java.time.Instant;

/** A point-in-time copy of a machine's disk; once READY it names the image holding its content. */
@Entity
@Table(name = "snapshots")
public class Snapshot extends PanacheEntityBase {
    @Id
    public String id;
    @Column(name = "tenant_id")
    public String tenantId;
    public String name;
    @Column(name = "machine_id")
    public String machineId;
    @Column(name = "image_id")
    public String imageId;
    /** The snapshot target's name, null for the repository: parent chains are per (machine, target). */
    public String target;
    @Column(name = "operation_id")
    public String operationId;
    @Enumerated(EnumType.STRING)
    public SnapshotState state;
    @Column(name = "created_at")
    public Instant createdAt;
    @Column(name = "updated_at")
    public Instant updatedAt;
    @Version
    public long version;
}

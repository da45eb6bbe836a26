package dev.sluice.boot;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import jakarta.persistence.Version;
import java.time.Instant;

/** One boot of a machine (table boots); its first touches are rows of boot_reads. */
@Entity
@Table(name = "boots")
public class Boot extends PanacheEntityBase {
    @Id
    public String id;
    @Column(name = "tenant_id")
    public String tenantId;
    @Column(name = "machine_id")
    public String machineId;
    @Column(name = "image_id")
    public String imageId;
    @Enumerated(EnumType.STRING)
    public BootPhase phase;
    /** First touches recorded while the firmware read the disk endpoint. */
    @Column(name = "remote_blocks")
    public int remoteBlocks;
    /** First-touch demand misses the agent reported after the hand-off. */
    @Column(name = "agent_blocks")
    public int agentBlocks;
    @Column(name = "started_at")
    public Instant startedAt;
    @Column(name = "handed_off_at")
    public Instant handedOffAt;
    @Version
    public long version;
}

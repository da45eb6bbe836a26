package dev.sluice.command;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.Instant;

/** A command for one machine's agent; {@code payload} is a JSON object whose shape depends on {@code kind}. */
@Entity
@Table(name = "machine_commands")
public class MachineCommand extends PanacheEntityBase {
    public static final String PENDING = "pending";
    public static final String DONE = "done";

    @Id
    public String id;
    @Column(name = "tenant_id")
    public String tenantId;
    @Column(name = "machine_id")
    public String machineId;
    @Column(name = "operation_id")
    public String operationId;
    public String kind;
    public String payload;
    public String state;
    @Column(name = "created_at")
    public Instant createdAt;
    @Column(name = "updated_at")
    public Instant updatedAt;
}

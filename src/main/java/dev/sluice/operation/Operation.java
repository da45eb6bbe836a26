package dev.sluice.operation;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import jakarta.persistence.Version;
import java.time.Instant;

/**
 * A long-running operation ({@code {id, done, error?, result?}}). error, result and progress hold JSON
 * objects as text so that each kind of operation can shape them without a schema change.
 */
@Entity
@Table(name = "operations")
public class Operation extends PanacheEntityBase {
    @Id
    public String id;
    @Column(name = "tenant_id")
    public String tenantId;
    public String kind;
    @Column(name = "target_id")
    public String targetId;
    public boolean done;
    public String error;
    public String result;
    public String progress;
    @Column(name = "created_at")
    public Instant createdAt;
    @Column(name = "updated_at")
    public Instant updatedAt;
    @Version
    public long version;
}

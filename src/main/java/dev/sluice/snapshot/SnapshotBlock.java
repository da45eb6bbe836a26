package dev.sluice.snapshot;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.IdClass;
import jakarta.persistence.Table;
import java.io.Serializable;

/** A block durably received for a snapshot upload (its bytes are in the store); digest null = all zero. */
@Entity
@Table(name = "snapshot_blocks")
@IdClass(SnapshotBlock.Key.class)
public class SnapshotBlock extends PanacheEntityBase {
    public static class Key implements Serializable {
        public String operationId;
        public long blockIndex;

        public Key() {
        }

        public Key(String operationId, long blockIndex) {
            this.operationId = operationId;
            this.blockIndex = blockIndex;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && k.operationId.equals(operationId) && k.blockIndex == blockIndex;
        }

        @Override
        public int hashCode() {
            return java.util.Objects.hash(operationId, blockIndex);
        }
    }

    @Id
    @Column(name = "operation_id")
    public String operationId;
    @Id
    @Column(name = "block_index")
    public long blockIndex;
    @Column(name = "tenant_id")
    public String tenantId;
    public String digest;
}

package dev.sluice.platform.api;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.IdClass;
import jakarta.persistence.Table;
import java.io.Serializable;
import java.time.Instant;
import java.util.Objects;

@Entity
@Table(name = "idempotency_keys")
@IdClass(IdempotencyRecord.Key.class)
public class IdempotencyRecord extends PanacheEntityBase {
    @Id
    public String scope;
    @Id
    @Column(name = "idem_key")
    public String idemKey;
    @Column(name = "tenant_id")
    public String tenantId;
    @Column(name = "request_hash")
    public String requestHash;
    /** IN_PROGRESS or DONE. */
    public String state;
    @Column(name = "response_status")
    public Integer responseStatus;
    @Column(name = "response_body")
    public String responseBody;
    public String location;
    public String etag;
    @Column(name = "created_at")
    public Instant createdAt;

    public static class Key implements Serializable {
        public String scope;
        public String idemKey;

        public Key() {
        }

        public Key(String scope, String idemKey) {
            this.scope = scope;
            this.idemKey = idemKey;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && k.scope.equals(scope) && k.idemKey.equals(idemKey);
        }

        @Override
        public int hashCode() {
            return Objects.hash(scope, idemKey);
        }
    }
}

package dev.sluice.blockstream;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.Instant;

/** A secret every replica must share (e.g. the disk-URL signing key); created once, on first use. */
@Entity
@Table(name = "server_secrets")
public class ServerSecret extends PanacheEntityBase {
    @Id
    public String name;
    public String secret;
    @Column(name = "created_at")
    public Instant createdAt;
}

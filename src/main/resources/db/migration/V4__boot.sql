-- Remote boot (DESIGN §5). A MAC names one machine across all tenants: /boot/v1/ipxe?mac=… is asked by firmware
-- that carries no credential, so the MAC alone must resolve to exactly one machine. (A database holding the same
-- MAC in two tenants fails this migration: give one of those machines another MAC first.)
ALTER TABLE machines DROP CONSTRAINT uq_machines_tenant_mac;
ALTER TABLE machines ADD CONSTRAINT uq_machines_mac UNIQUE (mac);

-- One row per boot of a machine: phase REMOTE (iPXE reads the disk endpoint) until its agent reports that its
-- driver is up, then AGENT. A boot that starts in AGENT had no remote phase (hypervisor mode, agent restart).
CREATE TABLE boots (
    id             VARCHAR(32)  NOT NULL PRIMARY KEY,
    tenant_id      VARCHAR(32)  NOT NULL REFERENCES tenants (id),
    machine_id     VARCHAR(32)  NOT NULL REFERENCES machines (id) ON DELETE CASCADE,
    image_id       VARCHAR(32)  NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    phase          VARCHAR(16)  NOT NULL,
    remote_blocks  INTEGER      NOT NULL,
    agent_blocks   INTEGER      NOT NULL,
    started_at     TIMESTAMP WITH TIME ZONE NOT NULL,
    handed_off_at  TIMESTAMP WITH TIME ZONE,
    version        BIGINT       NOT NULL
);
CREATE INDEX ix_boots_tenant ON boots (tenant_id);
CREATE INDEX ix_boots_machine ON boots (machine_id, started_at);
CREATE INDEX ix_boots_image ON boots (image_id, started_at);

-- A boot's first touches: each block once, seq = first-touch order (remote-phase reads, then the agent's
-- demand misses). Bounded per boot (sluice.boot.trace-cap). The image's boot profile is derived from these.
CREATE TABLE boot_reads (
    boot_id      VARCHAR(32)  NOT NULL REFERENCES boots (id) ON DELETE CASCADE,
    block_index  BIGINT       NOT NULL,
    seq          INTEGER      NOT NULL,
    source       VARCHAR(8)   NOT NULL,
    PRIMARY KEY (boot_id, block_index)
);

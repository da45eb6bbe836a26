-- Snapshots by acknowledged upload (DESIGN §4): commands to agents travel through the database (any replica may
-- insert one, the agent may long-poll any other), and an upload in progress records every block it durably
-- received, so a retry after a crash of either side resends nothing the server already has.

-- A command for one machine's agent. Delivered (again) on every poll until it is done or failed.
CREATE TABLE machine_commands (
    id           VARCHAR(32)   NOT NULL PRIMARY KEY,
    tenant_id    VARCHAR(32)   NOT NULL REFERENCES tenants (id),
    machine_id   VARCHAR(32)   NOT NULL,
    operation_id VARCHAR(32),
    kind         VARCHAR(32)   NOT NULL,
    payload      VARCHAR(4000) NOT NULL,
    state        VARCHAR(16)   NOT NULL,
    created_at   TIMESTAMP WITH TIME ZONE NOT NULL,
    updated_at   TIMESTAMP WITH TIME ZONE NOT NULL
);
CREATE INDEX ix_machine_commands_tenant ON machine_commands (tenant_id);
CREATE INDEX ix_machine_commands_pending ON machine_commands (machine_id, state);

-- One requested snapshot until it is committed: no snapshots row exists before then. target is NULL for the
-- repository; base_image_id is the machine's image when requested (the parent when the machine has no earlier
-- snapshot to this target); cut_blocks is what the agent froze (known once it reports its cut); snapshot_id is set by the
-- commit, which makes a retried "complete" return the same acknowledgement.
CREATE TABLE snapshot_uploads (
    operation_id    VARCHAR(32)  NOT NULL PRIMARY KEY REFERENCES operations (id) ON DELETE CASCADE,
    tenant_id       VARCHAR(32)  NOT NULL REFERENCES tenants (id),
    machine_id      VARCHAR(32)  NOT NULL,
    name            VARCHAR(63)  NOT NULL,
    target          VARCHAR(63),
    base_image_id   VARCHAR(32)  NOT NULL,
    size_bytes      BIGINT       NOT NULL,
    block_size      INTEGER      NOT NULL,
    cut_blocks      BIGINT,
    blocks_received BIGINT       NOT NULL,
    blocks_resent   BIGINT       NOT NULL,
    bytes_received  BIGINT       NOT NULL,
    new_blocks      BIGINT       NOT NULL,
    new_bytes       BIGINT       NOT NULL,
    snapshot_id     VARCHAR(32),
    created_at      TIMESTAMP WITH TIME ZONE NOT NULL,
    updated_at      TIMESTAMP WITH TIME ZONE NOT NULL,
    version         BIGINT       NOT NULL,
    CONSTRAINT uq_snapshot_uploads_tenant_name UNIQUE (tenant_id, name)
);
CREATE INDEX ix_snapshot_uploads_tenant ON snapshot_uploads (tenant_id);
CREATE INDEX ix_snapshot_uploads_machine ON snapshot_uploads (machine_id);

-- Blocks durably received for an upload: the block is in the store before its row is written. digest is NULL
-- for an all-zero block (not stored).
CREATE TABLE snapshot_blocks (
    operation_id VARCHAR(32) NOT NULL REFERENCES snapshot_uploads (operation_id) ON DELETE CASCADE,
    tenant_id    VARCHAR(32) NOT NULL,
    block_index  BIGINT      NOT NULL,
    digest       VARCHAR(64),
    PRIMARY KEY (operation_id, block_index)
);
CREATE INDEX ix_snapshot_blocks_tenant ON snapshot_blocks (tenant_id);

-- Parent chains are per (machine, target): NULL is the repository.
ALTER TABLE snapshots ADD COLUMN target VARCHAR(63);
CREATE INDEX ix_snapshots_machine ON snapshots (machine_id);

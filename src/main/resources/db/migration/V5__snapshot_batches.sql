-- Snapshot uploads record what they durably received one row per received batch (one insert per request) instead
-- of one row per block: entries packs the batch's frames in the order received, 40 bytes each: the block index
-- (8 bytes, big-endian) and its SHA-256 (32 bytes, all zero for an all-zero block, which is not stored). A block
-- sent again in a later batch is resolved at read time: the latest batch (highest seq) wins.
-- snapshot_blocks (V3) stays readable for uploads that were in progress when this migration ran.
CREATE TABLE snapshot_batches (
    operation_id VARCHAR(32) NOT NULL REFERENCES snapshot_uploads (operation_id) ON DELETE CASCADE,
    seq          BIGINT      NOT NULL,
    tenant_id    VARCHAR(32) NOT NULL,
    frames       INTEGER     NOT NULL,
    entries      BYTEA       NOT NULL,
    PRIMARY KEY (operation_id, seq)
);
CREATE INDEX ix_snapshot_batches_tenant ON snapshot_batches (tenant_id);

ALTER TABLE snapshot_uploads ADD COLUMN batches BIGINT NOT NULL DEFAULT 0;

-- Image content: a committed image points at its manifest (a content-addressed blob in the block store) and
-- records usage figures; an upload in progress keeps one row per persisted manifest segment.

ALTER TABLE images ADD COLUMN manifest_digest VARCHAR(64);
ALTER TABLE images ADD COLUMN received_bytes BIGINT DEFAULT 0 NOT NULL;
ALTER TABLE images ADD COLUMN zero_blocks BIGINT;
ALTER TABLE images ADD COLUMN data_blocks BIGINT;
ALTER TABLE images ADD COLUMN new_blocks BIGINT;
ALTER TABLE images ADD COLUMN new_bytes BIGINT;

-- segment_no covers blocks [segment_no * 1024, segment_no * 1024 + entries); digest names the blob holding
-- their 32-byte digests. A partial segment (entries < 1024) is replaced when the segment completes.
CREATE TABLE upload_segments (
    image_id    VARCHAR(32)  NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    tenant_id   VARCHAR(32)  NOT NULL REFERENCES tenants (id),
    segment_no  INTEGER      NOT NULL,
    entries     INTEGER      NOT NULL,
    digest      VARCHAR(64)  NOT NULL,
    zero_blocks INTEGER      NOT NULL,
    new_blocks  INTEGER      NOT NULL,
    new_bytes   BIGINT       NOT NULL,
    updated_at  TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (image_id, segment_no)
);
CREATE INDEX ix_upload_segments_tenant ON upload_segments (tenant_id);

-- Secrets shared by all replicas (e.g. the key that signs disk URLs), created on first use.
CREATE TABLE server_secrets (
    name       VARCHAR(64)  NOT NULL PRIMARY KEY,
    secret     VARCHAR(128) NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL
);

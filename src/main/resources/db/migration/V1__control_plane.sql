-- Control plane schema. Portable between PostgreSQL 15 and H2 2.x (MODE=PostgreSQL): plain VARCHAR/BIGINT/
-- BOOLEAN/TIMESTAMP WITH TIME ZONE only. Every tenant-owned table has tenant_id, indexed.

CREATE TABLE tenants (
    id           VARCHAR(32)  NOT NULL PRIMARY KEY,
    name         VARCHAR(63)  NOT NULL,
    display_name VARCHAR(200),
    created_at   TIMESTAMP WITH TIME ZONE NOT NULL,
    updated_at   TIMESTAMP WITH TIME ZONE NOT NULL,
    version      BIGINT       NOT NULL,
    CONSTRAINT uq_tenants_name UNIQUE (name)
);

-- API tokens: only the SHA-256 of the secret is stored. tenant_id is NULL for platform tokens.
CREATE TABLE api_tokens (
    id          VARCHAR(32)  NOT NULL PRIMARY KEY,
    tenant_id   VARCHAR(32)  REFERENCES tenants (id) ON DELETE CASCADE,
    name        VARCHAR(63)  NOT NULL,
    role        VARCHAR(32)  NOT NULL,
    machine_id  VARCHAR(32),
    token_hash  VARCHAR(64)  NOT NULL,
    expires_at  TIMESTAMP WITH TIME ZONE,
    revoked_at  TIMESTAMP WITH TIME ZONE,
    created_at  TIMESTAMP WITH TIME ZONE NOT NULL,
    updated_at  TIMESTAMP WITH TIME ZONE NOT NULL,
    version     BIGINT       NOT NULL,
    CONSTRAINT uq_api_tokens_hash UNIQUE (token_hash)
);
CREATE INDEX ix_api_tokens_tenant ON api_tokens (tenant_id);

CREATE TABLE images (
    id              VARCHAR(32)   NOT NULL PRIMARY KEY,
    tenant_id       VARCHAR(32)   NOT NULL REFERENCES tenants (id),
    name            VARCHAR(63)   NOT NULL,
    description     VARCHAR(1024),
    labels          VARCHAR(20000) NOT NULL,
    size_bytes      BIGINT        NOT NULL,
    block_size      INTEGER       NOT NULL,
    state           VARCHAR(16)   NOT NULL,
    parent_image_id VARCHAR(32),
    created_at      TIMESTAMP WITH TIME ZONE NOT NULL,
    updated_at      TIMESTAMP WITH TIME ZONE NOT NULL,
    version         BIGINT        NOT NULL,
    CONSTRAINT uq_images_tenant_name UNIQUE (tenant_id, name)
);
CREATE INDEX ix_images_tenant ON images (tenant_id);

CREATE TABLE machines (
    id                   VARCHAR(32)   NOT NULL PRIMARY KEY,
    tenant_id            VARCHAR(32)   NOT NULL REFERENCES tenants (id),
    name                 VARCHAR(63)   NOT NULL,
    mac                  VARCHAR(17),
    image_id             VARCHAR(32)   NOT NULL REFERENCES images (id),
    labels               VARCHAR(20000) NOT NULL,
    state                VARCHAR(16)   NOT NULL,
    hydration_state      VARCHAR(16),
    present_blocks       BIGINT,
    total_blocks         BIGINT,
    dirty_blocks         BIGINT,
    bytes_fetched        BIGINT,
    fetch_rate_bps       BIGINT,
    hydration_updated_at TIMESTAMP WITH TIME ZONE,
    created_at           TIMESTAMP WITH TIME ZONE NOT NULL,
    updated_at           TIMESTAMP WITH TIME ZONE NOT NULL,
    version              BIGINT        NOT NULL,
    CONSTRAINT uq_machines_tenant_name UNIQUE (tenant_id, name),
    CONSTRAINT uq_machines_tenant_mac UNIQUE (tenant_id, mac)
);
CREATE INDEX ix_machines_tenant ON machines (tenant_id);
CREATE INDEX ix_machines_image ON machines (image_id);

CREATE TABLE operations (
    id          VARCHAR(32)   NOT NULL PRIMARY KEY,
    tenant_id   VARCHAR(32)   NOT NULL REFERENCES tenants (id),
    kind        VARCHAR(32)   NOT NULL,
    target_id   VARCHAR(32),
    done        BOOLEAN       NOT NULL,
    error       VARCHAR(4000),
    result      VARCHAR(4000),
    progress    VARCHAR(4000),
    created_at  TIMESTAMP WITH TIME ZONE NOT NULL,
    updated_at  TIMESTAMP WITH TIME ZONE NOT NULL,
    version     BIGINT        NOT NULL
);
CREATE INDEX ix_operations_tenant ON operations (tenant_id);

CREATE TABLE snapshots (
    id           VARCHAR(32)   NOT NULL PRIMARY KEY,
    tenant_id    VARCHAR(32)   NOT NULL REFERENCES tenants (id),
    name         VARCHAR(63)   NOT NULL,
    machine_id   VARCHAR(32),
    image_id     VARCHAR(32),
    operation_id VARCHAR(32),
    state        VARCHAR(16)   NOT NULL,
    created_at   TIMESTAMP WITH TIME ZONE NOT NULL,
    updated_at   TIMESTAMP WITH TIME ZONE NOT NULL,
    version      BIGINT        NOT NULL,
    CONSTRAINT uq_snapshots_tenant_name UNIQUE (tenant_id, name)
);
CREATE INDEX ix_snapshots_tenant ON snapshots (tenant_id);

-- Idempotency-Key records. scope is the tenant id, or 'platform' for platform-level calls.
CREATE TABLE idempotency_keys (
    scope           VARCHAR(32)   NOT NULL,
    idem_key        VARCHAR(255)  NOT NULL,
    tenant_id       VARCHAR(32)   REFERENCES tenants (id) ON DELETE CASCADE,
    request_hash    VARCHAR(64)   NOT NULL,
    state           VARCHAR(16)   NOT NULL,
    response_status INTEGER,
    response_body   VARCHAR(65536),
    location        VARCHAR(512),
    etag            VARCHAR(100),
    created_at      TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (scope, idem_key)
);
CREATE INDEX ix_idempotency_keys_tenant ON idempotency_keys (tenant_id);
CREATE INDEX ix_idempotency_keys_created ON idempotency_keys (created_at);

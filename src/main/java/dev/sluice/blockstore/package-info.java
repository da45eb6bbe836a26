/**
 * Block contents, content-addressed per tenant (DESIGN §2, §7).
 *
 * <h2>Design notes</h2>
 * <ul>
 * <li>{@link dev.sluice.blockstore.BlockStore} is the whole SPI: put, get, exists, delete, and a listing for garbage
 * collection, keyed by {@code (tenantId, BlockDigest)}. Identical blocks are stored once per tenant, never across
 * tenants.</li>
 * <li>Integrity is the store's job, not the backend's: {@code VerifyingBlockStore} checks the SHA-256 before a block
 * is stored and again before it is returned, reports a corrupt block to {@link dev.sluice.blockstore.CorruptBlockLog}
 * (log + count) and quarantines it so that the next put repairs it. Backends only move verified bytes.</li>
 * <li>Backends: {@link dev.sluice.blockstore.FileBlockStore} (default; sharded files, temp-file + fsync + rename +
 * directory fsync) and {@link dev.sluice.blockstore.S3BlockStore} (AWS SDK v2 on the JDK HTTP client; any
 * S3-compatible server). Both are plain classes built from values, so tests and tools construct them without
 * CDI; {@link dev.sluice.blockstore.BlockStoreProducer} is the thin CDI glue.</li>
 * <li>Every method may block. The Vert.x data plane calls the store from worker threads only.</li>
 * <li>Each backend passes the same contract test ({@code BlockStoreContractTest}); the S3 one runs against a real
 * S3Proxy process.</li>
 * </ul>
 *
 * <h2>Configuration</h2>
 * <pre>
 * sluice.blockstore.kind=file|s3                  (default file)
 * sluice.blockstore.dir=...                       (file; default ${sluice.data-dir}/blocks)
 * sluice.blockstore.s3.endpoint=http://host:9000  (s3; unset for AWS)
 * sluice.blockstore.s3.bucket=...                 (s3; required, must exist)
 * sluice.blockstore.s3.region=us-east-1           (s3; default us-east-1)
 * sluice.blockstore.s3.access-key=...             (s3; with secret-key, or neither for the SDK default chain)
 * sluice.blockstore.s3.secret-key=...
 * sluice.blockstore.s3.prefix=sluice/blocks/      (s3; default none)
 * sluice.blockstore.s3.path-style=true            (s3; default true)
 * </pre>
 * Each key can also be set as an environment variable ({@code SLUICE_BLOCKSTORE_S3_BUCKET}, ...).
 */
package dev.sluice.blockstore;

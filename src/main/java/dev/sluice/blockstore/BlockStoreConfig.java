package dev.sluice.blockstore;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.util.Optional;

/**
 * Configuration of the block store ({@code sluice.blockstore.*}). With no settings at all the file backend is used
 * under {@code ${sluice.data-dir}/blocks}; nothing about S3 is required unless {@code kind=s3}.
 */
@ConfigMapping(prefix = "sluice.blockstore")
public interface BlockStoreConfig {

    /** Which backend: {@code file} (default; single node) or {@code s3} (multi-node). */
    @WithDefault("file")
    Kind kind();

    /** Directory of the file backend. */
    @WithDefault("${sluice.data-dir:data}/blocks")
    String dir();

    /** Settings of the S3 backend, used only when {@code kind=s3}. */
    S3 s3();

    enum Kind {
        FILE, S3
    }

    interface S3 {
        /** Server URL, e.g. {@code http://minio:9000}; unset for AWS S3. */
        Optional<String> endpoint();

        /** An existing bucket; required when {@code kind=s3}. */
        Optional<String> bucket();

        /** Signing region. */
        @WithDefault("us-east-1")
        String region();

        /** Static credentials; unset (with secret-key) to use the SDK's default chain (env, profile, IAM role). */
        Optional<String> accessKey();

        Optional<String> secretKey();

        /** Key prefix of every object of the store, e.g. {@code sluice/blocks/}. */
        Optional<String> prefix();

        /** Path-style URLs ({@code http://host/bucket/key}), as most S3-compatible servers need. */
        @WithDefault("true")
        boolean pathStyle();
    }
}

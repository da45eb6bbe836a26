package dev.sluice.blockstore;

import java.io.IOException;
import java.net.URI;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Stream;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * A {@link BlockStore} in an S3-compatible object store (AWS S3, Ceph RGW, MinIO): one object per block, for
 * multi-node deployments (DESIGN §7).
 *
 * <h2>Layout</h2>
 * <pre>
 *   &lt;prefix&gt;&lt;tenantId&gt;/&lt;64 hex digits&gt;                 a block
 *   &lt;prefix&gt;.quarantine/&lt;tenantId&gt;/&lt;hex&gt;.&lt;millis&gt;      a block found corrupt
 * </pre>
 * No sharding: S3 partitions by key prefix on its own. An S3 PUT is atomic (an object is never visible with partial
 * contents) and durable when it returns, so no temporary objects are needed. Each PUT carries {@code Content-MD5},
 * which every S3-compatible server checks, so bytes damaged on the way are rejected by the server; the SDK's newer
 * default CRC checksums (aws-chunked trailers) are switched off because not every S3-compatible server accepts
 * them. An idempotent put of a present block costs one HEAD.
 *
 * <p>Thread-safe (the SDK client is); every method blocks on network I/O. Uses the JDK's URL-connection HTTP client:
 * no Netty, no Apache client, no reflection beyond what the SDK itself needs.
 */
public final class S3BlockStore extends VerifyingBlockStore {

    private static final String QUARANTINE = ".quarantine/";

    private final S3Client s3;
    private final String bucket;
    private final String prefix;

    /**
     * Connection settings (config keys {@code sluice.blockstore.s3.*}).
     *
     * @param endpoint  the server's URL; empty for AWS S3's regional endpoint
     * @param region    the signing region (any value for most S3-compatible servers, e.g. {@code us-east-1})
     * @param bucket    an existing bucket
     * @param prefix    key prefix for all objects of this store, e.g. {@code sluice/blocks/}; may be empty
     * @param pathStyle path-style URLs ({@code http://host/bucket/key}), needed by most S3-compatible servers
     * @param accessKey with {@code secretKey}: static credentials; both empty: the SDK's default provider chain
     */
    public record Settings(Optional<URI> endpoint, String region, String bucket, String prefix, boolean pathStyle,
            Optional<String> accessKey, Optional<String> secretKey) {
        public Settings {
            Objects.requireNonNull(endpoint, "endpoint");
            Objects.requireNonNull(accessKey, "accessKey");
            Objects.requireNonNull(secretKey, "secretKey");
            if (region == null || region.isBlank()) {
                throw new IllegalArgumentException("sluice.blockstore.s3.region is required");
            }
            if (bucket == null || bucket.isBlank()) {
                throw new IllegalArgumentException("sluice.blockstore.s3.bucket is required");
            }
            if (accessKey.isPresent() != secretKey.isPresent()) {
                throw new IllegalArgumentException(
                        "set both sluice.blockstore.s3.access-key and sluice.blockstore.s3.secret-key, or neither");
            }
            prefix = normalizePrefix(prefix);
        }

        @Override
        public String toString() { // never print the secret
            return "S3 bucket " + bucket + " prefix '" + prefix + "' region " + region
                    + endpoint.map(e -> " endpoint " + e).orElse("") + (pathStyle ? " path-style" : "");
        }
    }

    /**
     * A store using {@code client}, which it takes ownership of (closed by {@link #close()}).
     *
     * @param prefix key prefix; a trailing {@code /} is added when missing
     */
    public S3BlockStore(S3Client client, String bucket, String prefix, CorruptBlockLog corruptBlocks) {
        super("s3", corruptBlocks);
        this.s3 = Objects.requireNonNull(client, "client");
        this.bucket = Objects.requireNonNull(bucket, "bucket");
        this.prefix = normalizePrefix(prefix);
    }

    /** Builds an SDK client from {@code settings} and a store on it. Does not contact the server. */
    public static S3BlockStore connect(Settings settings, CorruptBlockLog corruptBlocks) {
        AwsCredentialsProvider credentials = settings.accessKey().isPresent()
                ? StaticCredentialsProvider.create(
                        AwsBasicCredentials.create(settings.accessKey().get(), settings.secretKey().get()))
                : DefaultCredentialsProvider.create();
        var builder = S3Client.builder()
                .httpClientBuilder(UrlConnectionHttpClient.builder())
                .region(Region.of(settings.region()))
                .credentialsProvider(credentials)
                .forcePathStyle(settings.pathStyle())
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED);
        settings.endpoint().ifPresent(builder::endpointOverride);
        return new S3BlockStore(builder.build(), settings.bucket(), settings.prefix(), corruptBlocks);
    }

    /** The object key of a block. Package-private for tests. */
    String keyOf(String tenantId, BlockDigest digest) {
        return prefix + tenantId + "/" + digest.hex();
    }

    /** The bucket. Package-private for tests. */
    String bucket() {
        return bucket;
    }

    @Override
    boolean contains(String tenantId, BlockDigest digest) {
        try {
            s3.headObject(b -> b.bucket(bucket).key(keyOf(tenantId, digest)));
            return true;
        } catch (NoSuchKeyException e) {
            return false;
        } catch (S3Exception e) {
            if (e.statusCode() == 404) {
                return false;
            }
            throw failure("check", digest, e);
        } catch (SdkException e) {
            throw failure("check", digest, e);
        }
    }

    @Override
    void store(String tenantId, BlockDigest digest, byte[] verifiedBytes) {
        try {
            s3.putObject(b -> b.bucket(bucket).key(keyOf(tenantId, digest))
                            .contentType("application/octet-stream")
                            .contentLength((long) verifiedBytes.length)
                            .contentMD5(md5Base64(verifiedBytes)),
                    RequestBody.fromBytes(verifiedBytes));
        } catch (SdkException e) {
            throw failure("store", digest, e);
        }
    }

    @Override
    Optional<byte[]> load(String tenantId, BlockDigest digest) {
        try (ResponseInputStream<GetObjectResponse> in =
                s3.getObject(b -> b.bucket(bucket).key(keyOf(tenantId, digest)))) {
            Long length = in.response().contentLength();
            if (length != null && length > MAX_BLOCK_SIZE) {
                in.abort();
                throw new OversizedBlockException(length);
            }
            byte[] bytes = in.readNBytes(MAX_BLOCK_SIZE + 1);
            if (bytes.length > MAX_BLOCK_SIZE) {
                in.abort();
                throw new OversizedBlockException(bytes.length);
            }
            return Optional.of(bytes);
        } catch (NoSuchKeyException e) {
            return Optional.empty();
        } catch (S3Exception e) {
            if (e.statusCode() == 404) {
                return Optional.empty();
            }
            throw failure("read", digest, e);
        } catch (SdkException | IOException e) {
            throw failure("read", digest, e);
        }
    }

    @Override
    void remove(String tenantId, BlockDigest digest) {
        try {
            s3.deleteObject(b -> b.bucket(bucket).key(keyOf(tenantId, digest)));
        } catch (SdkException e) {
            throw failure("delete", digest, e);
        }
    }

    @Override
    void quarantine(String tenantId, BlockDigest digest) {
        String key = keyOf(tenantId, digest);
        String dest = prefix + QUARANTINE + tenantId + "/" + digest.hex() + "." + System.currentTimeMillis();
        try {
            s3.copyObject(b -> b.sourceBucket(bucket).sourceKey(key).destinationBucket(bucket).destinationKey(dest));
        } catch (NoSuchKeyException e) {
            return; // already gone
        } catch (SdkException e) {
            throw failure("quarantine", digest, e);
        }
        remove(tenantId, digest);
    }

    @Override
    Stream<StoredBlock> list(String tenantId) {
        String tenantPrefix = prefix + tenantId + "/";
        try {
            return s3.listObjectsV2Paginator(b -> b.bucket(bucket).prefix(tenantPrefix))
                    .contents().stream()
                    .map(o -> toStoredBlock(tenantPrefix, o))
                    .flatMap(Optional::stream);
        } catch (SdkException e) {
            throw new BlockStoreException("cannot list blocks of tenant " + tenantId + " in bucket " + bucket, e);
        }
    }

    private static Optional<StoredBlock> toStoredBlock(String tenantPrefix, S3Object o) {
        String name = o.key().substring(tenantPrefix.length());
        if (name.length() != 2 * BlockDigest.LENGTH) {
            return Optional.empty(); // not ours (a nested key, a stray object)
        }
        try {
            BlockDigest digest = BlockDigest.fromHex(name);
            if (!digest.hex().equals(name)) {
                return Optional.empty();
            }
            return Optional.of(new StoredBlock(digest, o.size() == null ? -1 : o.size(), o.lastModified()));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    @Override
    public void close() {
        s3.close();
    }

    private BlockStoreException failure(String what, BlockDigest digest, Exception e) {
        return new BlockStoreException("cannot " + what + " block " + digest + " in bucket " + bucket, e);
    }

    private static String normalizePrefix(String prefix) {
        if (prefix == null || prefix.isEmpty()) {
            return "";
        }
        if (prefix.startsWith("/")) {
            throw new IllegalArgumentException("an S3 key prefix must not start with '/'");
        }
        return prefix.endsWith("/") ? prefix : prefix + "/";
    }

    private static String md5Base64(byte[] bytes) {
        try {
            return Base64.getEncoder().encodeToString(MessageDigest.getInstance("MD5").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform provides MD5", e);
        }
    }
}

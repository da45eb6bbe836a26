package dev.sluice.blockstore;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * The {@link BlockStore} contract on {@link S3BlockStore} against a real S3-compatible server (S3Proxy in its own
 * process on loopback). The store is built by {@link S3BlockStore#connect}, the production path. Each test gets its
 * own key prefix in one shared bucket, so the server starts once per class.
 */
class S3BlockStoreTest extends BlockStoreContractTest {

    private static final String BUCKET = "sluice-blocks";
    private static final AtomicInteger PREFIXES = new AtomicInteger();

    @TempDir
    static Path serverDir;

    private static S3ProxyProcess server;
    /** Direct access to the bucket, bypassing the store (to damage blocks, to look around). */
    private static S3Client admin;

    @BeforeAll
    static void startServer() throws Exception {
        server = S3ProxyProcess.start(serverDir);
        admin = S3Client.builder()
                .httpClientBuilder(UrlConnectionHttpClient.builder())
                .endpointOverride(server.endpoint())
                .region(Region.US_EAST_1)
                .forcePathStyle(true)
                .credentialsProvider(StaticCredentialsProvider.create(
                        AwsBasicCredentials.create(S3ProxyProcess.IDENTITY, S3ProxyProcess.CREDENTIAL)))
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .build();
        admin.createBucket(b -> b.bucket(BUCKET));
    }

    @AfterAll
    static void stopServer() throws Exception {
        if (admin != null) {
            admin.close();
        }
        if (server != null) {
            server.close();
        }
    }

    private static S3BlockStore.Settings settings(String prefix, String secret) {
        return new S3BlockStore.Settings(Optional.of(server.endpoint()), "us-east-1", BUCKET, prefix, true,
                Optional.of(S3ProxyProcess.IDENTITY), Optional.of(secret));
    }

    @Override
    protected BlockStore newStore(CorruptBlockLog corruptBlocks) {
        return S3BlockStore.connect(settings("test-" + PREFIXES.incrementAndGet() + "/blocks", S3ProxyProcess.CREDENTIAL),
                corruptBlocks);
    }

    @Override
    protected void overwriteStored(String tenantId, BlockDigest digest, byte[] bytes) {
        admin.putObject(b -> b.bucket(BUCKET).key(((S3BlockStore) store).keyOf(tenantId, digest)),
                RequestBody.fromBytes(bytes));
    }

    @Test
    void blocksAreKeyedByPrefixTenantAndHexDigest() {
        byte[] block = randomBytes(4096);
        BlockDigest digest = BlockDigest.of(block);
        store.put(TENANT_A, digest, block);

        String key = ((S3BlockStore) store).keyOf(TENANT_A, digest);
        assertEquals(TENANT_A + "/" + digest.hex(), key.substring(key.indexOf("/blocks/") + "/blocks/".length()));
        assertEquals(4096L, admin.headObject(b -> b.bucket(BUCKET).key(key)).contentLength());
    }

    @Test
    void strayObjectsUnderATenantPrefixAreNeverListed() {
        byte[] block = randomBytes(4096);
        BlockDigest digest = BlockDigest.of(block);
        store.put(TENANT_A, digest, block);
        String key = ((S3BlockStore) store).keyOf(TENANT_A, digest);
        String tenantPrefix = key.substring(0, key.length() - 64);
        admin.putObject(b -> b.bucket(BUCKET).key(tenantPrefix + "README"), RequestBody.fromBytes(new byte[1]));
        admin.putObject(b -> b.bucket(BUCKET).key(tenantPrefix + "nested/" + digest.hex()),
                RequestBody.fromBytes(block));

        assertEquals(List.of(digest), digests(TENANT_A));
    }

    @Test
    void wrongCredentialsFailAsAStorageErrorNotAsAbsence() {
        try (BlockStore wrong = S3BlockStore.connect(settings("wrong", "not-the-credential"), new CorruptBlockLog())) {
            BlockDigest digest = BlockDigest.of(new byte[] {1});
            assertThrows(BlockStoreException.class, () -> wrong.get(TENANT_A, digest));
            assertThrows(BlockStoreException.class, () -> wrong.put(TENANT_A, digest, new byte[] {1}));
            assertThrows(BlockStoreException.class, () -> wrong.exists(TENANT_A, digest));
            assertThrows(BlockStoreException.class, () -> wrong.delete(TENANT_A, digest));
            assertThrows(BlockStoreException.class, () -> {
                try (Stream<StoredBlock> blocks = wrong.blocks(TENANT_A)) {
                    blocks.count(); // the listing is lazy: the failure comes while consuming it
                }
            });
        }
    }
}

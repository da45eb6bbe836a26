package dev.sluice.blockstore;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The selection of a backend from {@code sluice.blockstore.*}, without CDI. */
class BlockStoreProducerTest {

    @TempDir
    Path dir;

    record Config(BlockStoreConfig.Kind kind, String dir, BlockStoreConfig.S3 s3) implements BlockStoreConfig {
    }

    record S3(Optional<String> endpoint, Optional<String> bucket, String region, Optional<String> accessKey,
            Optional<String> secretKey, Optional<String> prefix, boolean pathStyle) implements BlockStoreConfig.S3 {
    }

    private static final S3 NO_S3 = new S3(Optional.empty(), Optional.empty(), "us-east-1", Optional.empty(),
            Optional.empty(), Optional.empty(), true);

    @Test
    void fileKindNeedsNoS3SettingsAndCreatesItsDirectory() {
        Path blocks = dir.resolve("data/blocks");
        try (BlockStore store = BlockStoreProducer.create(
                new Config(BlockStoreConfig.Kind.FILE, blocks.toString(), NO_S3), new CorruptBlockLog())) {
            assertInstanceOf(FileBlockStore.class, store);
            assertTrue(Files.isDirectory(blocks));
        }
    }

    @Test
    void s3KindBuildsAnS3StoreWithoutContactingTheServer() {
        S3 s3 = new S3(Optional.of("http://127.0.0.1:1"), Optional.of("bucket"), "us-east-1", Optional.of("id"),
                Optional.of("secret"), Optional.of("sluice"), true);
        try (BlockStore store = BlockStoreProducer.create(
                new Config(BlockStoreConfig.Kind.S3, dir.toString(), s3), new CorruptBlockLog())) {
            S3BlockStore s3Store = assertInstanceOf(S3BlockStore.class, store);
            BlockDigest d = BlockDigest.of(new byte[1]);
            assertEquals("sluice/t/" + d.hex(), s3Store.keyOf("t", d));
        }
        assertFalse(Files.exists(dir.resolve("t")));
    }

    @Test
    void s3KindWithoutABucketIsAConfigurationErrorNamingTheKey() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BlockStoreProducer.create(
                new Config(BlockStoreConfig.Kind.S3, dir.toString(), NO_S3), new CorruptBlockLog()));
        assertTrue(e.getMessage().contains("sluice.blockstore.s3.bucket"), e.getMessage());
    }

    @Test
    void anAccessKeyWithoutASecretIsAConfigurationError() {
        S3 s3 = new S3(Optional.empty(), Optional.of("bucket"), "us-east-1", Optional.of("id"), Optional.empty(),
                Optional.empty(), true);
        assertThrows(IllegalArgumentException.class, () -> BlockStoreProducer.create(
                new Config(BlockStoreConfig.Kind.S3, dir.toString(), s3), new CorruptBlockLog()));
    }

    @Test
    void anEndpointThatIsNotAnHttpUrlIsAConfigurationError() {
        S3 s3 = new S3(Optional.of("minio:9000"), Optional.of("bucket"), "us-east-1", Optional.empty(),
                Optional.empty(), Optional.empty(), true);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BlockStoreProducer.create(
                new Config(BlockStoreConfig.Kind.S3, dir.toString(), s3), new CorruptBlockLog()));
        assertTrue(e.getMessage().contains("sluice.blockstore.s3.endpoint"), e.getMessage());
    }

    @Test
    void theSecretKeyNeverAppearsInTheSettingsDescription() {
        S3BlockStore.Settings settings = new S3BlockStore.Settings(Optional.empty(), "us-east-1", "bucket", "",
                true, Optional.of("id"), Optional.of("very-secret"));
        assertFalse(settings.toString().contains("very-secret"));
    }
}

package dev.sluice.blockstore;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@link BlockStore} contract on {@link FileBlockStore}, plus what only the file layout can show. */
class FileBlockStoreTest extends BlockStoreContractTest {

    @TempDir
    Path dir;

    private FileBlockStore files() {
        return (FileBlockStore) store;
    }

    @Override
    protected BlockStore newStore(CorruptBlockLog corruptBlocks) {
        return new FileBlockStore(dir.resolve("blocks"), corruptBlocks);
    }

    @Override
    protected void overwriteStored(String tenantId, BlockDigest digest, byte[] bytes) throws Exception {
        Files.write(files().pathOf(tenantId, digest), bytes);
    }

    @Test
    void blocksAreShardedByTheirFirstTwoBytesUnderTheTenant() {
        byte[] block = randomBytes(4096);
        BlockDigest digest = BlockDigest.of(block);
        store.put(TENANT_A, digest, block);

        String hex = digest.hex();
        Path expected = dir.resolve("blocks").resolve(TENANT_A).resolve(hex.substring(0, 2))
                .resolve(hex.substring(2, 4)).resolve(hex);
        assertTrue(Files.isRegularFile(expected));
    }

    @Test
    void leftoverTemporaryFilesAndStrayFilesAreNeverListed() throws Exception {
        byte[] block = randomBytes(4096);
        BlockDigest digest = BlockDigest.of(block);
        store.put(TENANT_A, digest, block);
        Path shard = files().pathOf(TENANT_A, digest).getParent();
        // What a crash in the middle of a put leaves behind, and junk in the wrong places.
        Files.write(shard.resolve("." + digest.hex() + ".0000.tmp"), block);
        BlockDigest misplaced = BlockDigest.of(randomBytes(10));
        Files.write(shard.resolve(misplaced.hex()), new byte[10]);
        Files.write(dir.resolve("blocks").resolve(TENANT_A).resolve("README"), new byte[1]);

        assertEquals(List.of(digest), digests(TENANT_A));
    }

    @Test
    void aCorruptBlockIsKeptInQuarantineForInspection() throws Exception {
        byte[] block = randomBytes(4096);
        BlockDigest digest = BlockDigest.of(block);
        store.put(TENANT_A, digest, block);
        overwriteStored(TENANT_A, digest, new byte[4096]);
        try {
            store.get(TENANT_A, digest);
        } catch (CorruptBlockException expected) {
            // what the contract test checks
        }

        try (Stream<Path> quarantined = Files.list(dir.resolve("blocks/.quarantine").resolve(TENANT_A))) {
            List<Path> files = quarantined.toList();
            assertEquals(1, files.size());
            assertTrue(files.get(0).getFileName().toString().startsWith(digest.hex() + "."));
        }
    }

    @Test
    void storedBlocksSurviveReopeningTheStore() {
        byte[] block = randomBytes(65_536);
        BlockDigest digest = BlockDigest.of(block);
        store.put(TENANT_A, digest, block);
        store.close();

        store = new FileBlockStore(dir.resolve("blocks"), corruptBlocks);

        assertEquals(List.of(digest), digests(TENANT_A));
    }

    @Test
    void aSecondPutOfAPresentBlockDoesNotRewriteItsFile() throws Exception {
        byte[] block = randomBytes(65_536);
        BlockDigest digest = BlockDigest.of(block);
        store.put(TENANT_A, digest, block);
        Path file = files().pathOf(TENANT_A, digest);
        Object inode = Files.readAttributes(file, BasicFileAttributes.class).fileKey();
        FileTime written = Files.getLastModifiedTime(file);
        Files.setLastModifiedTime(file, FileTime.fromMillis(written.toMillis() - 60_000));

        store.put(TENANT_A, digest, block);

        assertEquals(inode, Files.readAttributes(file, BasicFileAttributes.class).fileKey(), "same file, not renamed over");
        assertEquals(written.toMillis() - 60_000, Files.getLastModifiedTime(file).toMillis(), "not written");
    }

    @Test
    void concurrentPutsLeaveNoTemporaryFilesBehind() throws Exception {
        concurrentPutsOfTheSameBlockAllSucceedAndStoreItOnce();

        try (Stream<Path> all = Files.walk(dir.resolve("blocks").resolve(TENANT_A))) {
            List<Path> regular = all.filter(Files::isRegularFile).toList();
            assertEquals(1, regular.size(), regular.toString());
        }
    }
}

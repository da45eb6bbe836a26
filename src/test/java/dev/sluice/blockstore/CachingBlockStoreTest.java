package dev.sluice.blockstore;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ReadOnlyBufferException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@link BlockStore} contract through the off-heap verified-block cache (over files), plus what the data plane
 * relies on: shared buffers are read-only and direct, only verified bytes are cached, and eviction never changes
 * a buffer already handed out.
 */
class CachingBlockStoreTest extends BlockStoreContractTest {
    private static final int BLOCK = 65536;

    @TempDir
    Path dir;
    private FileBlockStore files;

    private CachingBlockStore cache() {
        return (CachingBlockStore) store;
    }

    @Override
    protected BlockStore newStore(CorruptBlockLog corruptBlocks) {
        files = new FileBlockStore(dir.resolve("blocks"), corruptBlocks);
        // Room for two 64 KiB blocks (each weighs its bytes plus a little bookkeeping), not three.
        return new CachingBlockStore(files, 2 * (BLOCK + 128L));
    }

    @Override
    protected void overwriteStored(String tenantId, BlockDigest digest, byte[] bytes) throws Exception {
        Files.write(files.pathOf(tenantId, digest), bytes);
    }

    @Test
    void sharedBlocksAreReadOnlyDirectViewsOfTheVerifiedBytes() {
        byte[] block = randomBytes(BLOCK);
        BlockDigest digest = BlockDigest.of(block);
        store.put(TENANT_A, digest, ByteBuffer.wrap(block));
        assertNull(cache().peek(TENANT_A, digest), "a put does not fill the cache: only bytes read back and verified do");

        ByteBuffer shared = cache().getShared(TENANT_A, digest).orElseThrow();
        assertTrue(shared.isDirect());
        assertTrue(shared.isReadOnly());
        assertThrows(ReadOnlyBufferException.class, () -> shared.put(0, (byte) 1));
        assertEquals(ByteBuffer.wrap(block), shared);
        shared.position(100); // a caller moving its view does not move anyone else's
        ByteBuffer again = cache().peek(TENANT_A, digest);
        assertNotNull(again);
        assertEquals(0, again.position());
        assertEquals(ByteBuffer.wrap(block), again);

        byte[] copy = store.get(TENANT_A, digest).orElseThrow();
        copy[0] ^= 1; // get returns a private copy
        assertEquals(ByteBuffer.wrap(block), cache().peek(TENANT_A, digest));
    }

    @Test
    void aBlockCorruptedBeforeItsFirstReadIsNeverCached() throws Exception {
        byte[] block = randomBytes(BLOCK);
        BlockDigest digest = BlockDigest.of(block);
        store.put(TENANT_A, digest, ByteBuffer.wrap(block));
        byte[] damaged = block.clone();
        damaged[7] ^= 0x10;
        overwriteStored(TENANT_A, digest, damaged);

        assertThrows(CorruptBlockException.class, () -> cache().getShared(TENANT_A, digest));
        assertNull(cache().peek(TENANT_A, digest));
    }

    @Test
    void evictionKeepsHandedOutBuffersIntact() {
        byte[][] blocks = {randomBytes(BLOCK), randomBytes(BLOCK), randomBytes(BLOCK)};
        ByteBuffer[] shared = new ByteBuffer[3];
        for (int i = 0; i < 3; i++) {
            BlockDigest d = BlockDigest.of(blocks[i]);
            store.put(TENANT_A, d, ByteBuffer.wrap(blocks[i]));
            shared[i] = cache().getShared(TENANT_A, d).orElseThrow();
        }
        assertNull(cache().peek(TENANT_A, BlockDigest.of(blocks[0])), "the least recently used block was evicted");
        assertNotNull(cache().peek(TENANT_A, BlockDigest.of(blocks[2])));
        for (int i = 0; i < 3; i++) {
            byte[] seen = new byte[BLOCK];
            shared[i].duplicate().get(seen);
            assertArrayEquals(blocks[i], seen);
        }
    }
}

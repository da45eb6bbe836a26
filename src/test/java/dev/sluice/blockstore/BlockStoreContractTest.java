package dev.sluice.blockstore;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The behaviour every {@link BlockStore} backend must have. A backend's test is a tiny subclass that says how to
 * make a fresh, empty store and how to damage a stored block behind the store's back.
 */
abstract class BlockStoreContractTest {

    static final String TENANT_A = "tenant-a";
    static final String TENANT_B = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0";

    protected BlockStore store;
    protected CorruptBlockLog corruptBlocks;
    private final Random random = new Random(42);

    /** A fresh store with no blocks, reporting to {@code corruptBlocks}. */
    protected abstract BlockStore newStore(CorruptBlockLog corruptBlocks) throws Exception;

    /** Replaces the stored bytes of a block directly in the backend, bypassing every check of the store. */
    protected abstract void overwriteStored(String tenantId, BlockDigest digest, byte[] bytes) throws Exception;

    @BeforeEach
    void openStore() throws Exception {
        corruptBlocks = new CorruptBlockLog();
        store = newStore(corruptBlocks);
    }

    @AfterEach
    void closeStore() {
        if (store != null) {
            store.close();
        }
    }

    // --- round trips ------------------------------------------------------------------------------------------

    @ParameterizedTest(name = "{0} bytes")
    // 4 KiB .. 4 MiB powers of two, plus short last blocks (not a multiple of anything) and a single byte.
    @ValueSource(ints = {1, 4096, 12_345, 65_536, 65_535, 524_288, 1_048_576, 4_194_304, 4_194_304 - 511})
    void putThenGetReturnsTheSameBytes(int size) {
        byte[] block = randomBytes(size);
        BlockDigest digest = BlockDigest.of(block);

        assertTrue(store.put(TENANT_A, digest, block), "a new block is stored");

        assertTrue(store.exists(TENANT_A, digest));
        assertArrayEquals(block, store.get(TENANT_A, digest).orElseThrow());
    }

    // --- batches ---------------------------------------------------------------------------------------------

    @Test
    void aBatchStoresEveryBlockAndSaysWhichWereNew() throws Exception {
        java.util.concurrent.ExecutorService io = java.util.concurrent.Executors.newFixedThreadPool(4);
        try {
            byte[] old = randomBytes(65_536);
            store.put(TENANT_A, BlockDigest.of(old), old);
            List<byte[]> blocks = new java.util.ArrayList<>();
            for (int i = 0; i < 20; i++) {
                blocks.add(i == 7 ? old : randomBytes(i == 19 ? 12_345 : 65_536));
            }
            blocks.add(blocks.get(3)); // the same new block twice in one batch
            BlockBatch batch = store.batch(TENANT_A, io, 3);
            for (byte[] b : blocks) {
                batch.add(BlockDigest.of(b), b);
            }
            boolean[] fresh = batch.commit();
            assertEquals(blocks.size(), fresh.length);
            for (int i = 0; i < 20; i++) {
                assertEquals(i != 7, fresh[i], "block " + i + " new unless it was present before");
                assertArrayEquals(blocks.get(i), store.get(TENANT_A, BlockDigest.of(blocks.get(i))).orElseThrow());
            }
            assertFalse(store.exists(TENANT_B, BlockDigest.of(blocks.get(0))), "another tenant has none of them");
            try (Stream<StoredBlock> listed = store.blocks(TENANT_A)) {
                assertEquals(20, listed.count(), "20 distinct blocks (the repeated one once), no temporary files listed");
            }
        } finally {
            io.shutdownNow();
        }
    }

    @Test
    void aBatchWithABlockThatDoesNotMatchItsDigestFailsAndDoesNotStoreThatBlock() throws Exception {
        java.util.concurrent.ExecutorService io = java.util.concurrent.Executors.newFixedThreadPool(4);
        try {
            byte[] good = randomBytes(4096);
            byte[] bad = randomBytes(4096);
            BlockDigest claimed = BlockDigest.of(randomBytes(4096));
            BlockBatch batch = store.batch(TENANT_A, io, 8);
            batch.add(BlockDigest.of(good), good);
            batch.add(claimed, bad);
            DigestMismatchException e = assertThrows(DigestMismatchException.class, batch::commit);
            assertEquals(claimed, e.expected());
            assertFalse(store.exists(TENANT_A, claimed));
            assertFalse(store.exists(TENANT_A, BlockDigest.of(bad)));
            try (Stream<StoredBlock> listed = store.blocks(TENANT_A)) {
                assertTrue(listed.allMatch(b -> b.digest().equals(BlockDigest.of(good))), "at most the good block, nothing half-written");
            }
        } finally {
            io.shutdownNow();
        }
    }

    @Test
    void getOfAnAbsentBlockIsEmpty() {
        BlockDigest digest = BlockDigest.of(randomBytes(100));
        assertEquals(Optional.empty(), store.get(TENANT_A, digest));
        assertFalse(store.exists(TENANT_A, digest));
    }

    @Test
    void putStoresOnlyTheRemainingBytesOfABufferAndLeavesItsPositionAlone() {
        byte[] backing = randomBytes(10_000);
        ByteBuffer buf = ByteBuffer.wrap(backing, 1000, 4096).slice().position(96);
        byte[] expected = Arrays.copyOfRange(backing, 1096, 1000 + 4096);
        BlockDigest digest = BlockDigest.of(expected);

        store.put(TENANT_A, digest, buf);

        assertEquals(96, buf.position());
        assertEquals(4096, buf.limit());
        assertArrayEquals(expected, store.get(TENANT_A, digest).orElseThrow());
    }

    @Test
    void getReturnsACopyThatTheCallerMayChange() {
        byte[] block = randomBytes(4096);
        BlockDigest digest = BlockDigest.of(block);
        store.put(TENANT_A, digest, block);

        byte[] first = store.get(TENANT_A, digest).orElseThrow();
        Arrays.fill(first, (byte) 7);
        Arrays.fill(block, (byte) 9);

        assertTrue(digest.matches(store.get(TENANT_A, digest).orElseThrow()));
    }

    @Test
    void putOfAnEmptyBlockRoundTrips() {
        BlockDigest digest = BlockDigest.of(new byte[0]);
        store.put(TENANT_A, digest, new byte[0]);
        assertArrayEquals(new byte[0], store.get(TENANT_A, digest).orElseThrow());
    }

    // --- idempotence and verification on put -----------------------------------------------------------------

    @Test
    void secondPutOfTheSameBlockReportsItPresentAndKeepsOneCopy() {
        byte[] block = randomBytes(65_536);
        BlockDigest digest = BlockDigest.of(block);

        assertTrue(store.put(TENANT_A, digest, block));
        assertFalse(store.put(TENANT_A, digest, block.clone()));

        assertArrayEquals(block, store.get(TENANT_A, digest).orElseThrow());
        assertEquals(List.of(digest), digests(TENANT_A));
    }

    @Test
    void putWithAWrongDigestIsRejectedAndStoresNothing() {
        byte[] claimed = randomBytes(4096);
        byte[] sent = claimed.clone();
        sent[4095] ^= 1; // one bit off
        BlockDigest digest = BlockDigest.of(claimed);

        DigestMismatchException e = assertThrows(DigestMismatchException.class,
                () -> store.put(TENANT_A, digest, sent));

        assertEquals(digest, e.expected());
        assertEquals(BlockDigest.of(sent), e.actual());
        assertFalse(store.exists(TENANT_A, digest));
        assertFalse(store.exists(TENANT_A, BlockDigest.of(sent)));
        assertEquals(Optional.empty(), store.get(TENANT_A, digest));
        assertEquals(List.of(), digests(TENANT_A));
    }

    @Test
    void putWithAWrongDigestDoesNotReplaceAStoredBlock() {
        byte[] block = randomBytes(4096);
        BlockDigest digest = BlockDigest.of(block);
        store.put(TENANT_A, digest, block);

        assertThrows(DigestMismatchException.class, () -> store.put(TENANT_A, digest, randomBytes(4096)));

        assertArrayEquals(block, store.get(TENANT_A, digest).orElseThrow());
    }

    @Test
    void blockLargerThanTheMaximumIsRejected() {
        byte[] block = new byte[BlockStore.MAX_BLOCK_SIZE + 1];
        BlockDigest digest = BlockDigest.of(block);
        assertThrows(IllegalArgumentException.class, () -> store.put(TENANT_A, digest, block));
        assertFalse(store.exists(TENANT_A, digest));
    }

    @Test
    void concurrentPutsOfTheSameBlockAllSucceedAndStoreItOnce() throws Exception {
        byte[] block = randomBytes(1_048_576);
        BlockDigest digest = BlockDigest.of(block);
        int threads = 8;
        CountDownLatch start = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<Boolean>> results = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                byte[] own = block.clone();
                Callable<Boolean> put = () -> {
                    start.await();
                    return store.put(TENANT_A, digest, own);
                };
                results.add(pool.submit(put));
            }
            start.countDown();
            int stored = 0;
            for (Future<Boolean> r : results) {
                stored += r.get(60, TimeUnit.SECONDS) ? 1 : 0; // throws if any put failed
            }
            assertTrue(stored >= 1, "at least one put stored the block");
        } finally {
            pool.shutdownNow();
        }

        assertArrayEquals(block, store.get(TENANT_A, digest).orElseThrow());
        assertEquals(List.of(digest), digests(TENANT_A), "one block, and no leftover temporary objects listed");
    }

    // --- exists, delete, enumeration --------------------------------------------------------------------------

    @Test
    void deleteRemovesTheBlockAndIsIdempotent() {
        byte[] block = randomBytes(4096);
        BlockDigest digest = BlockDigest.of(block);
        byte[] other = randomBytes(4096);
        store.put(TENANT_A, digest, block);
        store.put(TENANT_A, BlockDigest.of(other), other);

        store.delete(TENANT_A, digest);

        assertFalse(store.exists(TENANT_A, digest));
        assertEquals(Optional.empty(), store.get(TENANT_A, digest));
        assertEquals(List.of(BlockDigest.of(other)), digests(TENANT_A));
        store.delete(TENANT_A, digest); // absent: no error

        assertTrue(store.put(TENANT_A, digest, block), "a deleted block can be stored again");
        assertArrayEquals(block, store.get(TENANT_A, digest).orElseThrow());
    }

    @Test
    void blocksListsEveryStoredBlockWithItsSize() {
        Map<BlockDigest, Integer> expected = new HashMap<>();
        for (int size : new int[] {1, 100, 4096, 4096, 65_536, 70_000, 131_072}) {
            byte[] block = randomBytes(size);
            BlockDigest digest = BlockDigest.of(block);
            store.put(TENANT_A, digest, block);
            expected.put(digest, size);
        }

        Map<BlockDigest, Long> listed;
        try (Stream<StoredBlock> blocks = store.blocks(TENANT_A)) {
            listed = blocks.collect(Collectors.toMap(StoredBlock::digest, StoredBlock::sizeBytes));
        }

        assertEquals(expected.keySet(), listed.keySet());
        expected.forEach((d, size) -> assertEquals((long) size, listed.get(d), "size of " + d));
    }

    @Test
    void blocksOfATenantWithNoBlocksIsEmpty() {
        assertEquals(List.of(), digests("never-seen"));
    }

    // --- tenancy ----------------------------------------------------------------------------------------------

    @Test
    void aBlockOfOneTenantIsInvisibleToAnother() {
        byte[] block = randomBytes(4096);
        BlockDigest digest = BlockDigest.of(block);
        store.put(TENANT_A, digest, block);

        assertFalse(store.exists(TENANT_B, digest));
        assertEquals(Optional.empty(), store.get(TENANT_B, digest));
        assertEquals(List.of(), digests(TENANT_B));

        store.delete(TENANT_B, digest);
        assertTrue(store.exists(TENANT_A, digest), "another tenant's delete does not touch it");
    }

    @Test
    void theSameBlockInTwoTenantsIsStoredAndDeletedIndependently() {
        byte[] block = randomBytes(4096);
        BlockDigest digest = BlockDigest.of(block);

        assertTrue(store.put(TENANT_A, digest, block));
        assertTrue(store.put(TENANT_B, digest, block), "present in A does not mean present in B");
        store.delete(TENANT_A, digest);

        assertFalse(store.exists(TENANT_A, digest));
        assertArrayEquals(block, store.get(TENANT_B, digest).orElseThrow());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "A", "Tenant", "../x", "a/b", ".quarantine", "-a", "a b", "a\u0000",
        "a1234567890123456789012345678901234567890123456789012345678901234"})
    void invalidTenantIdsAreRejectedByEveryMethod(String tenantId) {
        byte[] block = randomBytes(16);
        BlockDigest digest = BlockDigest.of(block);
        List<Function<BlockStore, Object>> calls = List.of(
                s -> s.put(tenantId, digest, block),
                s -> s.get(tenantId, digest),
                s -> s.exists(tenantId, digest),
                s -> {
                    s.delete(tenantId, digest);
                    return null;
                },
                s -> s.blocks(tenantId));
        for (Function<BlockStore, Object> call : calls) {
            assertThrows(IllegalArgumentException.class, () -> call.apply(store));
        }
        assertThrows(IllegalArgumentException.class, () -> store.get(null, digest));
    }

    // --- corruption -------------------------------------------------------------------------------------------

    @Test
    void aCorruptStoredBlockIsDetectedOnGetAndNeverReturned() throws Exception {
        byte[] block = randomBytes(65_536);
        BlockDigest digest = BlockDigest.of(block);
        store.put(TENANT_A, digest, block);
        byte[] damaged = block.clone();
        damaged[12_345] ^= 0x10; // one flipped bit, same length
        overwriteStored(TENANT_A, digest, damaged);

        CorruptBlockException e = assertThrows(CorruptBlockException.class, () -> store.get(TENANT_A, digest));

        assertEquals(digest, e.digest());
        assertEquals(TENANT_A, e.tenantId());
        assertEquals(1, corruptBlocks.count());
    }

    @Test
    void aCorruptBlockIsQuarantinedSoThatTheNextPutRepairsIt() throws Exception {
        byte[] block = randomBytes(4096);
        BlockDigest digest = BlockDigest.of(block);
        store.put(TENANT_A, digest, block);
        overwriteStored(TENANT_A, digest, Arrays.copyOf(block, 4000)); // truncated
        assertThrows(CorruptBlockException.class, () -> store.get(TENANT_A, digest));

        assertFalse(store.exists(TENANT_A, digest), "quarantined: no longer present");
        assertEquals(Optional.empty(), store.get(TENANT_A, digest));
        assertEquals(List.of(), digests(TENANT_A), "quarantined blocks are not listed");

        assertTrue(store.put(TENANT_A, digest, block), "the put stores it afresh");
        assertArrayEquals(block, store.get(TENANT_A, digest).orElseThrow());
        assertEquals(1, corruptBlocks.count());
    }

    @Test
    void anOversizedStoredObjectIsReportedCorruptWithoutReadingIt() throws Exception {
        byte[] block = randomBytes(16);
        BlockDigest digest = BlockDigest.of(block);
        store.put(TENANT_A, digest, block);
        overwriteStored(TENANT_A, digest, new byte[BlockStore.MAX_BLOCK_SIZE + 1]);

        assertThrows(CorruptBlockException.class, () -> store.get(TENANT_A, digest));
        assertEquals(1, corruptBlocks.count());
    }

    @Test
    void corruptionInOneTenantDoesNotAffectTheSameBlockInAnother() throws Exception {
        byte[] block = randomBytes(4096);
        BlockDigest digest = BlockDigest.of(block);
        store.put(TENANT_A, digest, block);
        store.put(TENANT_B, digest, block);
        overwriteStored(TENANT_A, digest, randomBytes(4096));

        assertThrows(CorruptBlockException.class, () -> store.get(TENANT_A, digest));
        assertArrayEquals(block, store.get(TENANT_B, digest).orElseThrow());
    }

    // --- helpers ----------------------------------------------------------------------------------------------

    protected byte[] randomBytes(int size) {
        byte[] b = new byte[size];
        random.nextBytes(b);
        return b;
    }

    protected List<BlockDigest> digests(String tenantId) {
        try (Stream<StoredBlock> blocks = store.blocks(tenantId)) {
            return blocks.map(StoredBlock::digest).sorted().toList();
        }
    }
}

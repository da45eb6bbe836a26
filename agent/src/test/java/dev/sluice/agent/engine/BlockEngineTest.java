package dev.sluice.agent.engine;

import dev.sluice.agent.nbd.WriteSplitter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

class BlockEngineTest {

    private Geometry geometry;
    private byte[] image;
    private CrashableBytes.FaultPlan faults;
    private CrashableBytes local;
    private CrashableBytes mapBytes;
    private MemoryBlockSource source;
    private BlockEngine engine;

    private void setUp(long size, int blockSize) throws IOException {
        geometry = new Geometry(size, blockSize);
        image = new byte[(int) size];
        new Random(size * 31 + blockSize).nextBytes(image);
        faults = new CrashableBytes.FaultPlan();
        local = new CrashableBytes((int) size, faults);
        mapBytes = new CrashableBytes(0, faults);
        source = new MemoryBlockSource(image, geometry, 1);
        reopen();
    }

    private void reopen() throws IOException {
        engine = new BlockEngine(BlockMap.open(geometry, mapBytes), local, source, Clock.SYSTEM,
                new BlockEngine.Settings(4, 5_000_000_000L));
    }

    private void crash() throws IOException {
        Random r = new Random(7);
        local.crash(r);
        mapBytes.crash(r);
        reopen();
    }

    private byte[] readAll() throws IOException {
        byte[] all = new byte[image.length];
        engine.read(0, ByteBuffer.wrap(all));
        return all;
    }

    /** Block sizes × offsets × lengths: aligned, unaligned, crossing blocks, touching the short last block. */
    static Stream<Arguments> writeCases() {
        List<Arguments> cases = new ArrayList<>();
        for (int bs : new int[]{512, 4096, 65536}) {
            long size = 5L * bs + bs / 2; // short last block
            long[][] ranges = {
                    {0, 1}, {1, 1}, {bs - 1, 2}, {0, bs}, {bs, bs}, {bs / 2, bs}, {0, 3L * bs + 5},
                    {size - 1, 1}, {size - bs / 2, bs / 2}, {size - bs - 3, bs + 3}, {0, size}, {7, size - 7},
            };
            for (long[] r : ranges) cases.add(Arguments.of(bs, size, r[0], (int) r[1]));
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "block {0}, write {2}+{3}")
    @MethodSource("writeCases")
    void writeIsReadBackOverTheImageAndMarksOnlyTouchedBlocksDirty(int bs, long size, long off, int len) throws IOException {
        setUp(size, bs);
        byte[] data = new byte[len];
        new Random(off).nextBytes(data);
        WriteSplitter.write(engine, off, ByteBuffer.wrap(data));

        byte[] expected = image.clone();
        System.arraycopy(data, 0, expected, (int) off, len);
        assertArrayEquals(expected, readAll());
        long first = geometry.blockOf(off), last = geometry.blockOf(off + len - 1);
        for (long b = 0; b < geometry.blockCount(); b++) {
            boolean touched = b >= first && b <= last;
            assertEquals(touched, engine.map().isDirty(BlockMap.REPOSITORY, b), "dirty bit of block " + b);
            assertTrue(engine.map().isPresent(b));
        }
    }

    @ParameterizedTest(name = "block {0}, write {2}+{3}")
    @MethodSource("writeCases")
    void onlyPartiallyWrittenAbsentBlocksAreFetched(int bs, long size, long off, int len) throws IOException {
        setUp(size, bs);
        WriteSplitter.write(engine, off, ByteBuffer.wrap(new byte[len]));
        long expectedFetches = 0;
        for (long b = geometry.blockOf(off); b <= geometry.blockOf(off + len - 1); b++) {
            long start = geometry.blockOffset(b), end = start + geometry.blockLength(b);
            if (off > start || off + len < end) expectedFetches++;
        }
        assertTrue(source.blocksServed.get() >= expectedFetches, "partial blocks must be fetched first");
        long wholeBlocks = (geometry.blockOf(off + len - 1) - geometry.blockOf(off) + 1) - expectedFetches;
        // Whole-block writes need no fetch; read-ahead may not run for writes either.
        assertEquals(expectedFetches, source.blocksServed.get(), wholeBlocks + " whole blocks must not be fetched");
    }

    @ParameterizedTest(name = "block {0}, write {2}+{3}")
    @MethodSource("writeCases")
    void flushedWritesSurviveACrashAndStayDirty(int bs, long size, long off, int len) throws IOException {
        setUp(size, bs);
        byte[] data = new byte[len];
        Arrays.fill(data, (byte) 0x5a);
        WriteSplitter.write(engine, off, ByteBuffer.wrap(data));
        engine.flush();
        crash();
        byte[] expected = image.clone();
        System.arraycopy(data, 0, expected, (int) off, len);
        assertArrayEquals(expected, readAll());
        for (long b = geometry.blockOf(off); b <= geometry.blockOf(off + len - 1); b++) {
            assertTrue(engine.map().isDirty(BlockMap.REPOSITORY, b));
        }
    }

    @Test
    void writeIntentIsDurableBeforeTheDataWrite() throws IOException {
        setUp(8 * 4096, 4096);
        int syncsBefore = mapBytes.syncCount;
        WriteSplitter.write(engine, 4096, ByteBuffer.wrap(new byte[4096]));
        assertTrue(mapBytes.syncCount > syncsBefore, "the map must be synced before a write returns");
        // Lose every unsynced byte: the dirty bit must still be there.
        crash();
        assertTrue(engine.map().isDirty(BlockMap.REPOSITORY, 1));
        assertFalse(engine.map().isPresent(1), "an unflushed write to an absent block is not present after a crash");
        assertArrayEquals(Arrays.copyOfRange(image, 4096, 8192), Arrays.copyOfRange(readAll(), 4096, 8192),
                "an absent block reads the repository's bytes, not local junk");
    }

    @Test
    void fetchedBlocksAreNotPresentAfterACrashUntilFlushed() throws IOException {
        setUp(8 * 4096, 4096);
        engine.read(0, ByteBuffer.allocate(10));
        assertTrue(engine.map().isPresent(0));
        crash();
        assertFalse(engine.map().isPresent(0), "present means durable: no flush, no present");
        engine.read(0, ByteBuffer.allocate(10));
        engine.flush();
        crash();
        assertTrue(engine.map().isPresent(0));
        assertArrayEquals(image, readAll());
    }

    @Test
    void concurrentMissesOfOneBlockCauseOneFetch() throws Exception {
        setUp(64 * 4096, 4096);
        source.delayMillis = 200;
        ExecutorService pool = Executors.newFixedThreadPool(8);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<byte[]>> reads = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            reads.add(pool.submit(() -> {
                go.await();
                ByteBuffer b = ByteBuffer.allocate(4096);
                engine.read(10 * 4096, b);
                return b.array();
            }));
        }
        go.countDown();
        for (Future<byte[]> f : reads) assertArrayEquals(Arrays.copyOfRange(image, 40960, 45056), f.get());
        pool.shutdown();
        assertEquals(1, source.fetchCalls.get());
        assertEquals(1, source.blocksServed.get());
    }

    @Test
    void sequentialMissesTriggerReadAhead() throws IOException {
        setUp(64 * 4096, 4096);
        engine.read(0, ByteBuffer.allocate(4096));
        engine.read(4096, ByteBuffer.allocate(4096));
        assertEquals(2, source.blocksServed.get(), "the first two misses fetch only what was asked");
        engine.read(2 * 4096, ByteBuffer.allocate(4096));
        long window = SequentialStreams.initialWindow(1, 4L * DemandFetcher.RUNS_AHEAD);
        assertEquals(3 + window, source.blocksServed.get(), "the third sequential miss fetches the block and a first (small) window ahead");
        engine.read(3 * 4096, ByteBuffer.allocate((int) window * 4096));
        assertEquals(3 + window, source.blocksServed.get(), "read-ahead blocks are served locally");
        engine.read(60 * 4096, ByteBuffer.allocate(4096));
        assertEquals(4 + window, source.blocksServed.get(), "a random miss does not read ahead");
    }

    @Test
    void readAheadZeroFetchesOnlyWhatIsRead() throws IOException {
        setUp(64 * 4096, 4096);
        engine = new BlockEngine(BlockMap.open(geometry, mapBytes), local, source, Clock.SYSTEM, new BlockEngine.Settings(0, 5_000_000_000L));
        for (int b = 0; b < 10; b++) engine.read(b * 4096L, ByteBuffer.allocate(4096));
        assertEquals(10, source.blocksServed.get());
    }

    @Test
    void backgroundReadAheadReturnsBeforeTheRunEndsAndLaterReadersWaitForIt() throws Exception {
        setUp(64 * 4096, 4096);
        CountDownLatch release = new CountDownLatch(1);
        BlockSource gated = (start, count, deadline, sink) -> {
            source.fetchCalls.incrementAndGet();
            for (long b = start; b < start + count; b++) {
                if (b >= 4) { // read-ahead blocks stall until released
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        throw new IOException(e);
                    }
                }
                sink.accept(b, ByteBuffer.wrap(image, (int) (b * 4096), 4096).slice());
            }
        };
        ExecutorService background = Executors.newSingleThreadExecutor();
        ExecutorService readers = Executors.newFixedThreadPool(2);
        try {
            engine = new BlockEngine(BlockMap.open(geometry, mapBytes), local, gated, Clock.SYSTEM,
                    new BlockEngine.Settings(16, 5_000_000_000L), background);
            engine.read(0, ByteBuffer.allocate(4096));
            engine.read(4096, ByteBuffer.allocate(4096));
            Future<byte[]> first = readers.submit(() -> {
                ByteBuffer b = ByteBuffer.allocate(2 * 4096);
                engine.read(2 * 4096, b); // third sequential miss: blocks 2..3 fetched, 4..19 (and on) read ahead in the background
                return b.array();
            });
            assertArrayEquals(Arrays.copyOfRange(image, 2 * 4096, 4 * 4096), first.get(2, java.util.concurrent.TimeUnit.SECONDS),
                    "the reader returns once its own blocks are in, while read-ahead is still streaming");
            Future<byte[]> later = readers.submit(() -> {
                ByteBuffer b = ByteBuffer.allocate(4096);
                engine.read(5 * 4096, b); // claimed by the read-ahead run: waits for it, no second fetch
                return b.array();
            });
            Thread.sleep(200);
            assertFalse(later.isDone());
            release.countDown();
            assertArrayEquals(Arrays.copyOfRange(image, 5 * 4096, 6 * 4096), later.get(5, java.util.concurrent.TimeUnit.SECONDS));
            background.shutdown();
            assertTrue(background.awaitTermination(5, java.util.concurrent.TimeUnit.SECONDS));
            long firstWindow = Math.min(SequentialStreams.initialWindow(2, 16L * DemandFetcher.RUNS_AHEAD), 64 - 4);
            int readAheadRuns = (int) ((firstWindow + 15) / 16);
            assertEquals(3 + readAheadRuns, source.fetchCalls.get(), "block 0, block 1, blocks 2..3, runs of 16 from 4 on; none for block 5 itself");
        } finally {
            release.countDown();
            background.shutdownNow();
            readers.shutdownNow();
        }
    }

    @Test
    void concurrentWritersReadersAndPrefetchOnSharedBlocksLoseNothing() throws Exception {
        setUp(256 * 1024 + 333, 4096);
        byte[] model = image.clone();
        int threads = 4, stripe = 1000; // 1000-byte stripes: threads share blocks, partial writes race fetches
        source.delayMillis = 1; // widen the window between a fetch's start and its install
        ExecutorService pool = Executors.newFixedThreadPool(threads + 2);
        ExecutorService background = Executors.newSingleThreadExecutor();
        engine = new BlockEngine(BlockMap.open(geometry, mapBytes), local, source, Clock.SYSTEM,
                new BlockEngine.Settings(8, 5_000_000_000L), background);
        List<Future<?>> jobs = new ArrayList<>();
        jobs.add(pool.submit(() -> {
            new Prefetcher(engine, source, Clock.SYSTEM, PrefetchOrder.sequential(), 0, 4, 5_000_000_000L, l -> { }).run();
            return null;
        }));
        for (int t = 0; t < threads; t++) {
            int me = t;
            jobs.add(pool.submit(() -> {
                Random r = new Random(me);
                for (int i = 0; i < 400; i++) {
                    int s = r.nextInt(image.length / stripe) / threads * threads + me;
                    int from = s * stripe;
                    if (from >= image.length) continue;
                    int to = Math.min(image.length, from + stripe);
                    int off = from + r.nextInt(to - from);
                    int len = 1 + r.nextInt(to - off);
                    byte[] data = new byte[len];
                    r.nextBytes(data);
                    WriteSplitter.write(engine, off, ByteBuffer.wrap(data));
                    synchronized (model) {
                        System.arraycopy(data, 0, model, off, len);
                    }
                    ByteBuffer back = ByteBuffer.allocate(to - from);
                    engine.read(from, back);
                    byte[] expected;
                    synchronized (model) {
                        expected = Arrays.copyOfRange(model, from, to);
                    }
                    assertArrayEquals(expected, back.array(), "thread " + me + " stripe " + s);
                    if (r.nextInt(50) == 0) engine.flush();
                }
                return null;
            }));
        }
        for (Future<?> f : jobs) f.get();
        pool.shutdown();
        background.shutdown();
        assertArrayEquals(model, readAll());
        engine.flush();
        crash();
        assertArrayEquals(model, readAll(), "after a flush and a crash");
        for (long b = 0; b < geometry.blockCount(); b++) {
            int from = (int) geometry.blockOffset(b), to = from + geometry.blockLength(b);
            if (!Arrays.equals(model, from, to, image, from, to)) assertTrue(engine.map().isDirty(BlockMap.REPOSITORY, b));
        }
    }

    @Test
    void failedFetchIsAnErrorAndLeavesTheBlockAbsent() throws IOException {
        setUp(8 * 4096, 4096);
        source.failureRate = 1;
        assertThrows(FetchFailedException.class, () -> engine.read(0, ByteBuffer.allocate(4096)));
        assertFalse(engine.map().isPresent(0));
        assertThrows(FetchFailedException.class, () -> WriteSplitter.write(engine, 1, ByteBuffer.allocate(1)));
        source.failureRate = 0;
        assertArrayEquals(image, readAll());
    }

    @Test
    void repositoryBytesNeverOverwriteAGuestWrite() throws IOException {
        setUp(8 * 4096, 4096);
        byte[] mine = new byte[4096];
        Arrays.fill(mine, (byte) 1);
        WriteSplitter.write(engine, 4096, ByteBuffer.wrap(mine));
        assertFalse(engine.install(1, ByteBuffer.wrap(image, 4096, 4096).slice()));
        ByteBuffer got = ByteBuffer.allocate(4096);
        engine.read(4096, got);
        assertArrayEquals(mine, got.array());
    }

    @Test
    void acknowledgeClearsDirtyOnlyForTheUploadedGeneration() throws IOException {
        setUp(8 * 4096, 4096);
        WriteSplitter.write(engine, 0, ByteBuffer.allocate(8192));
        engine.beginUpload(BlockMap.REPOSITORY, 0);
        engine.acknowledge(BlockMap.REPOSITORY, 0);
        assertFalse(engine.map().isDirty(BlockMap.REPOSITORY, 0));
        assertTrue(engine.map().isDirty(1, 0), "other targets keep their own dirty bit");

        engine.beginUpload(BlockMap.REPOSITORY, 1);
        WriteSplitter.write(engine, 4096 + 5, ByteBuffer.allocate(3)); // write after the upload read it
        engine.acknowledge(BlockMap.REPOSITORY, 1);
        assertTrue(engine.map().isDirty(BlockMap.REPOSITORY, 1), "a write after the upload started keeps the block dirty");

        crash();
        assertFalse(engine.map().isDirty(BlockMap.REPOSITORY, 0), "acknowledged clean state is durable");
        assertTrue(engine.map().isDirty(BlockMap.REPOSITORY, 1));
    }

    @Test
    void mapForAnotherGeometryIsRefused() throws IOException {
        setUp(8 * 4096, 4096);
        assertThrows(IOException.class, () -> BlockMap.open(new Geometry(16 * 4096, 4096), mapBytes));
        CrashableBytes junk = new CrashableBytes(8192, faults);
        junk.write(0, ByteBuffer.wrap("not a map".getBytes()));
        assertThrows(IOException.class, () -> BlockMap.open(geometry, junk));
    }

    @Test
    void nextAbsentSkipsPresentBlocks() throws IOException {
        setUp(100 * 512, 512);
        engine.read(0, ByteBuffer.allocate(40 * 512));
        assertEquals(40, engine.map().nextAbsent(0));
        assertEquals(99, engine.map().nextAbsent(99));
        engine.read(40 * 512, ByteBuffer.allocate(60 * 512));
        assertEquals(-1, engine.map().nextAbsent(0));
        assertEquals(100, engine.map().presentCount());
    }
}

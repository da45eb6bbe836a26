package dev.sluice.agent.engine;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

class PrefetcherTest {

    /** A clock that only moves when slept on: throttling is checked without waiting. */
    static final class FakeClock implements Clock {
        long now;
        long slept;
        Runnable afterSleep = () -> { };

        @Override
        public synchronized long nanoTime() {
            return now;
        }

        @Override
        public void sleepNanos(long nanos) {
            synchronized (this) {
                now += Math.max(nanos, 0);
                slept += Math.max(nanos, 0);
            }
            afterSleep.run(); // what "the guest" does meanwhile, on the sleeper's thread: deterministic
        }
    }

    private final Geometry geometry = new Geometry(100 * 4096 + 100, 4096);
    private final byte[] image = new byte[(int) geometry.sizeBytes()];
    private final CrashableBytes.FaultPlan faults = new CrashableBytes.FaultPlan();
    private final CrashableBytes local = new CrashableBytes(image.length, faults);
    private final CrashableBytes mapBytes = new CrashableBytes(0, faults);
    private final MemoryBlockSource source;
    private final List<String> log = new ArrayList<>();

    PrefetcherTest() {
        new Random(3).nextBytes(image);
        source = new MemoryBlockSource(image, geometry, 3);
    }

    private BlockEngine engine(Clock clock) throws IOException {
        return new BlockEngine(BlockMap.open(geometry, mapBytes), local, source, clock, BlockEngine.Settings.defaults(geometry));
    }

    @Test
    void fillsEveryBlockThenStopsForGoodAndSaysSo() throws IOException {
        BlockEngine engine = engine(new FakeClock());
        Prefetcher p = new Prefetcher(engine, source, new FakeClock(), PrefetchOrder.sequential(), 0, 16, 1_000_000_000L, log::add);
        p.run();
        assertEquals(Prefetcher.State.COMPLETE, p.state());
        assertEquals(geometry.blockCount(), engine.map().presentCount());
        assertEquals(7, source.fetchCalls.get(), "101 blocks in batches of 16");
        assertTrue(log.get(log.size() - 1).contains("prefetch complete"), log.toString());
        byte[] all = new byte[image.length];
        engine.read(0, ByteBuffer.wrap(all));
        assertArrayEquals(image, all);
        assertEquals(7, source.fetchCalls.get(), "no fetch after prefetch completed");
    }

    @Test
    void resumesAfterRestartWithoutRefetchingDurableBlocks() throws IOException {
        FakeClock clock = new FakeClock();
        BlockEngine engine = engine(clock);
        // Stop after 3 batches by failing the 4th fetch with a crash of the whole machine.
        faults.callsLeft = 3 * 16 * 1 + 3 * 2 + 10; // lands somewhere in the 4th batch
        Prefetcher p = new Prefetcher(engine, source, clock, PrefetchOrder.sequential(), 0, 16, 1_000_000_000L, log::add);
        Thread t = new Thread(p::run);
        t.start();
        while (!faults.fired) Thread.onSpinWait();
        p.stop();
        try {
            t.join();
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
        faults.reset();
        local.crash(new Random(1));
        mapBytes.crash(new Random(1));
        BlockEngine restarted = engine(clock);
        long durable = restarted.map().presentCount();
        assertTrue(durable >= 16 && durable < geometry.blockCount(), "some batches were durable: " + durable);
        long servedBefore = source.blocksServed.get();
        new Prefetcher(restarted, source, clock, PrefetchOrder.sequential(), 0, 16, 1_000_000_000L, log::add).run();
        assertEquals(geometry.blockCount() - durable, source.blocksServed.get() - servedBefore, "only absent blocks are fetched again");
        byte[] all = new byte[image.length];
        restarted.read(0, ByteBuffer.wrap(all));
        assertArrayEquals(image, all);
    }

    @Test
    void throttleHoldsTheConfiguredRate() throws IOException {
        FakeClock clock = new FakeClock();
        BlockEngine engine = engine(clock);
        long rate = 100 * 1024; // bytes per second
        new Prefetcher(engine, source, clock, PrefetchOrder.sequential(), rate, 8, 1_000_000_000L, log::add).run();
        double seconds = clock.now / 1e9;
        double expectedAtLeast = (image.length - 8 * 4096) / (double) rate; // the last batch needs no wait after it
        assertTrue(seconds >= expectedAtLeast * 0.99, "took " + seconds + " s, expected at least " + expectedAtLeast);
        assertTrue(seconds <= image.length / (double) rate * 1.01, "took " + seconds + " s");
    }

    @Test
    void priorityBlocksComeFirst() throws IOException {
        FakeClock clock = new FakeClock();
        BlockEngine engine = engine(clock);
        List<Long> order = new ArrayList<>();
        BlockSource recording = (start, count, deadline, sink) -> {
            order.add(start);
            source.fetch(start, count, deadline, sink);
        };
        new Prefetcher(engine, recording, clock, PrefetchOrder.priorityFirst(new long[]{50, 51, 52, 7, 500}), 0, 16, 1_000_000_000L, log::add).run();
        assertEquals(List.of(50L, 7L, 0L), order.subList(0, 3));
        assertEquals(geometry.blockCount(), engine.map().presentCount());
    }

    @Test
    void givesWayToTheGuestInProportionWithoutStopping() throws IOException {
        FakeClock clock = new FakeClock();
        BlockEngine engine = engine(clock);
        engine.read(0, ByteBuffer.allocate(1)); // a demand miss "now"
        List<Integer> counts = new ArrayList<>();
        long fetchNanos = 2_000_000L;
        BlockSource slow = (start, count, deadline, sink) -> {
            counts.add(count);
            clock.sleepNanos(fetchNanos); // every run takes 2 ms of (fake) time
            source.fetch(start, count, deadline, sink);
        };
        long sleptByFetches = 0;
        Prefetcher p = new Prefetcher(engine, slow, clock, PrefetchOrder.sequential(), 0, 16, 1_000_000_000L,
                Prefetcher.Settings.serial(2), log::add);
        p.run();
        sleptByFetches = counts.size() * fetchNanos;
        assertEquals(Prefetcher.State.COMPLETE, p.state());
        assertEquals(geometry.blockCount(), engine.map().presentCount());
        assertEquals(2, counts.get(0), "while the guest misses, runs are short");
        assertEquals(16, counts.get(counts.size() - 2), "once the guest stopped missing, full runs again");
        int shortRuns = (int) counts.stream().filter(c -> c == 2).count();
        assertTrue(shortRuns >= 10, "short runs while the demand window lasted: " + counts);
        assertTrue(clock.slept - sleptByFetches >= shortRuns * fetchNanos,
                "after each short run the prefetcher waited as long as the run took: slept " + clock.slept);
    }

    @Test
    void givesWayToAGuestThatReadsPresentBlocksToo() throws IOException {
        FakeClock clock = new FakeClock();
        BlockEngine engine = engine(clock);
        engine.install(99, ByteBuffer.wrap(image, 99 * 4096, 4096));
        List<Integer> counts = new ArrayList<>();
        BlockSource slow = (start, count, deadline, sink) -> {
            counts.add(count);
            clock.sleepNanos(2_000_000L);
            source.fetch(start, count, deadline, sink);
        };
        long[] reads = {0};
        clock.afterSleep = () -> { // the guest reads block 99 (present: a hit, never a miss) for the first 100 ms
            if (clock.nanoTime() >= 100_000_000L) return;
            try {
                engine.read(99L * 4096, ByteBuffer.allocate(512));
                reads[0]++;
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        };
        engine.read(99L * 4096, ByteBuffer.allocate(512));
        Prefetcher p = new Prefetcher(engine, slow, clock, PrefetchOrder.sequential(), 0, 16, 1_000_000_000L,
                Prefetcher.Settings.serial(2), log::add);
        p.run();
        assertEquals(0, engine.demandMisses(), "every guest read was a hit");
        assertEquals(geometry.blockCount(), engine.map().presentCount());
        assertEquals(2, counts.get(0), "while the guest reads, runs are short even though it never misses");
        assertTrue(counts.contains(16), "once the guest went quiet, full runs again: " + counts);
        assertTrue(reads[0] > 10, "the guest kept reading meanwhile: " + reads[0]);
    }

    @Test
    void parallelRunsFillTheDiskWithOneFlushPerGroup() throws Exception {
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(3);
        try {
            BlockEngine engine = engine(Clock.SYSTEM);
            java.util.concurrent.atomic.AtomicInteger running = new java.util.concurrent.atomic.AtomicInteger();
            java.util.concurrent.atomic.AtomicInteger most = new java.util.concurrent.atomic.AtomicInteger();
            BlockSource overlapping = (start, count, deadline, sink) -> {
                most.accumulateAndGet(running.incrementAndGet(), Math::max);
                try {
                    Thread.sleep(20);
                    source.fetch(start, count, deadline, sink);
                } catch (InterruptedException e) {
                    throw new IOException(e);
                } finally {
                    running.decrementAndGet();
                }
            };
            int syncsBefore = local.syncCount;
            Prefetcher p = new Prefetcher(engine, overlapping, Clock.SYSTEM, PrefetchOrder.sequential(), 0, 8, 5_000_000_000L,
                    new Prefetcher.Settings(3, 40 * 4096, 2, pool), log::add);
            p.run();
            assertEquals(Prefetcher.State.COMPLETE, p.state());
            assertTrue(most.get() >= 2, "runs overlapped: at most " + most.get() + " at once");
            assertTrue(local.syncCount - syncsBefore <= 5, "one data sync per 40 blocks and one at the end, not one per run: " + (local.syncCount - syncsBefore));
            byte[] all = new byte[image.length];
            engine.read(0, ByteBuffer.wrap(all));
            assertArrayEquals(image, all);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void failedParallelRunsAreRetriedOnTheNextPass() throws IOException {
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(4);
        try {
            BlockEngine engine = engine(Clock.SYSTEM);
            source.failureRate = 0.02;
            FakeClock backoff = new FakeClock(); // the retry backoff sleeps on this clock, not for real
            Prefetcher p = new Prefetcher(engine, source, backoff, PrefetchOrder.sequential(), 0, 8, 5_000_000_000L,
                    new Prefetcher.Settings(3, 40 * 4096, 2, pool), log::add);
            p.run();
            assertEquals(Prefetcher.State.COMPLETE, p.state());
            assertTrue(log.stream().anyMatch(l -> l.contains("will retry")), log.toString());
            byte[] all = new byte[image.length];
            engine.read(0, ByteBuffer.wrap(all));
            assertArrayEquals(image, all);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void failedBatchesAreRetriedOnTheNextPass() throws IOException {
        FakeClock clock = new FakeClock();
        BlockEngine engine = engine(clock);
        source.failureRate = 0.02;
        new Prefetcher(engine, source, clock, PrefetchOrder.sequential(), 0, 16, 1_000_000_000L, log::add).run();
        assertEquals(geometry.blockCount(), engine.map().presentCount());
        assertTrue(log.stream().anyMatch(l -> l.contains("will retry")), log.toString());
    }

    /** Start of each fetch and the fake time it began at. */
    private final List<long[]> fetches = new ArrayList<>();

    private Prefetcher holding(FakeClock clock, BlockEngine engine, PrefetchOrder order, long holdNanos) {
        BlockSource recording = (start, count, deadline, sink) -> {
            fetches.add(new long[]{start, clock.nanoTime()});
            source.fetch(start, count, deadline, sink);
        };
        return new Prefetcher(engine, recording, clock, order, 0, 16, 1_000_000_000L, log::add).holdForBoot(holdNanos);
    }

    @Test
    void bootHoldKeepsTheRestBackUntilItsEndWhileTheGuestHasNotReadYet() throws IOException {
        FakeClock clock = new FakeClock();
        BlockEngine engine = engine(clock);
        engine.guestAttached(); // qemu connected at t = 0 and has not read yet (its kernel is still starting)
        holding(clock, engine, PrefetchOrder.priorityFirst(new long[]{50, 51}), 10_000_000_000L).run();
        assertEquals(50L, fetches.get(0)[0]);
        assertEquals(0L, fetches.get(0)[1], "the priority list is fetched at once");
        assertEquals(0L, fetches.get(1)[0]);
        assertTrue(fetches.get(1)[1] >= 10_000_000_000L, "the rest waits for the end of the hold: " + fetches.get(1)[1]);
        assertEquals(geometry.blockCount(), engine.map().presentCount());
    }

    @Test
    void bootHoldReleasesTheRestOnceTheGuestPausesReading() throws IOException {
        FakeClock clock = new FakeClock();
        BlockEngine engine = engine(clock);
        engine.guestAttached();
        engine.read(50L * 4096, ByteBuffer.allocate(10)); // the guest has started: a read at t = 0
        holding(clock, engine, PrefetchOrder.priorityFirst(new long[]{50, 51}), 10_000_000_000L).run();
        long[] rest = fetches.stream().filter(f -> f[0] == 0).findFirst().orElseThrow();
        assertTrue(rest[1] >= Prefetcher.GUEST_QUIET_NANOS && rest[1] < 2 * Prefetcher.GUEST_QUIET_NANOS,
                "the rest starts after a quiet second, not at the end of the hold: " + rest[1]);
    }

    @Test
    void withoutAPriorityListThereIsNoHold() throws IOException {
        FakeClock clock = new FakeClock();
        BlockEngine engine = engine(clock);
        holding(clock, engine, PrefetchOrder.sequential(), 10_000_000_000L).run();
        assertEquals(0L, clock.now, "nothing says what a boot needs, so nothing is held");
        assertEquals(geometry.blockCount(), engine.map().presentCount());
    }

    @Test
    void withABootSetWatchedAPauseCountsOnlyAfterMostOfItWasRead() throws IOException {
        FakeClock clock = new FakeClock();
        BlockEngine engine = engine(clock);
        engine.watchBootSet(new BootSetReads(new long[]{50, 51, 60, 61, 70, 71, 80, 81, 90, 91}));
        engine.guestAttached();
        engine.read(50L * 4096, ByteBuffer.allocate(10)); // a first read (1 of 10 boot blocks), then a long pause
        boolean[] booted = {false};
        clock.afterSleep = () -> {
            if (booted[0] || clock.nanoTime() < 3_000_000_000L) return;
            booted[0] = true;
            try {
                engine.read(60L * 4096, ByteBuffer.allocate(40 * 4096)); // blocks 60..99: 8 more of 10
                engine.read(51L * 4096, ByteBuffer.allocate(10));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        };
        holding(clock, engine, PrefetchOrder.priorityFirst(new long[]{50, 51, 60, 61, 70, 71, 80, 81, 90, 91}), 10_000_000_000L).run();
        long[] rest = fetches.stream().filter(f -> f[0] == 0).findFirst().orElseThrow();
        assertTrue(rest[1] >= 3_000_000_000L + Prefetcher.GUEST_QUIET_NANOS,
                "the pause before the boot set was read did not release the rest: " + rest[1]);
        assertTrue(rest[1] < 10_000_000_000L, "released before the end of the hold: " + rest[1]);
    }

    @Test
    void withNoGuestAttachedNothingIsHeld() throws IOException {
        FakeClock clock = new FakeClock();
        BlockEngine engine = engine(clock);
        holding(clock, engine, PrefetchOrder.priorityFirst(new long[]{50, 51}), 10_000_000_000L).run();
        assertEquals(0L, clock.now, "no client, no boot to give way to: the whole image at once");
        assertEquals(geometry.blockCount(), engine.map().presentCount());
    }

    @Test
    void aGuestAttachingDuringThePrefetchEngagesTheHoldFromItsAttachTime() throws IOException {
        FakeClock clock = new FakeClock();
        BlockEngine engine = engine(clock);
        clock.now = 5_000_000_000L; // the agent has been prefetching for 5 s when qemu attaches
        BlockSource attachingAtFirstRest = (start, count, deadline, sink) -> {
            if (start == 0 && engine.guestsAttached() == 0) engine.guestAttached();
            fetches.add(new long[]{start, clock.nanoTime()});
            source.fetch(start, count, deadline, sink);
        };
        new Prefetcher(engine, attachingAtFirstRest, clock, PrefetchOrder.priorityFirst(new long[]{50, 51}), 0, 16,
                1_000_000_000L, log::add).holdForBoot(10_000_000_000L).run();
        assertEquals(5_000_000_000L, fetches.get(1)[1], "the first run of the rest started before the guest attached");
        assertTrue(fetches.get(2)[1] >= 15_000_000_000L,
                "after the attach the rest waits until 10 s after it: " + fetches.get(2)[1]);
        assertEquals(geometry.blockCount(), engine.map().presentCount());
    }

    @Test
    void aGuestThatDetachesReleasesTheHold() throws IOException {
        FakeClock clock = new FakeClock();
        BlockEngine engine = engine(clock);
        engine.guestAttached(); // e.g. nbdinfo: a handshake, no reads, gone after 2 s
        clock.afterSleep = () -> {
            if (engine.guestsAttached() > 0 && clock.nanoTime() >= 2_000_000_000L) engine.guestDetached();
        };
        holding(clock, engine, PrefetchOrder.priorityFirst(new long[]{50, 51}), 10_000_000_000L).run();
        long[] rest = fetches.stream().filter(f -> f[0] == 0).findFirst().orElseThrow();
        assertTrue(rest[1] >= 2_000_000_000L && rest[1] < 3_000_000_000L, "released when the client left: " + rest[1]);
    }
}

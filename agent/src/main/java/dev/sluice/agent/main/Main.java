package dev.sluice.agent.main;

import dev.sluice.agent.engine.BlockEngine;
import dev.sluice.agent.engine.BlockMap;
import dev.sluice.agent.engine.BlockSource;
import dev.sluice.agent.engine.Clock;
import dev.sluice.agent.engine.Geometry;
import dev.sluice.agent.engine.MeteredBlockSource;
import dev.sluice.agent.engine.BootSetReads;
import dev.sluice.agent.engine.PrefetchOrder;
import dev.sluice.agent.engine.TouchTrace;
import dev.sluice.agent.engine.Prefetcher;
import dev.sluice.agent.local.CacheDir;
import dev.sluice.agent.local.FileCutStore;
import dev.sluice.agent.local.FileLocalStore;
import dev.sluice.agent.local.FileMapStore;
import dev.sluice.agent.nbd.NbdServer;
import dev.sluice.agent.nbd.NbdSession;
import dev.sluice.agent.remote.BootClient;
import dev.sluice.agent.remote.HttpBlockSource;
import dev.sluice.agent.remote.HydrationReporter;
import dev.sluice.agent.remote.ControlChannel;
import dev.sluice.agent.remote.MachineInfo;
import dev.sluice.agent.remote.SnapshotClient;

import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/** Command line entry: wires the engine, the NBD server, the HTTP block source and the prefetcher. */
public final class Main {
    /** First-touch reads kept for the control plane: 16384 blocks is 1 GiB at 64 KiB, far more than a boot reads. */
    static final int TOUCH_TRACE_CAP = 16384;

    static final String USAGE = """
            Usage:
              sluice-agent run --control-plane URL --machine ID --token TOKEN --cache-dir DIR
                               (--nbd-unix PATH | --nbd-listen 127.0.0.1:PORT) [options]
              sluice-agent status --cache-dir DIR [--json]
              sluice-agent --help

            run: export the machine's disk over NBD, filling it lazily from the control plane.
              --control-plane URL     base URL of the control plane (e.g. http://127.0.0.1:8080)
              --machine ID            this machine's id; its image and geometry come from GET /api/v1/machines/ID
              --token TOKEN           machine credential (Bearer); or set SLUICE_TOKEN instead
              --cache-dir DIR         local cache: disk.cache (sparse, the disk's size), block.map, machine.properties
              --nbd-unix PATH         serve NBD on a unix socket at PATH
              --nbd-listen HOST:PORT  serve NBD on TCP (bind to 127.0.0.1 unless the network is trusted)
              --prefetch on|off       fill every block in the background (default on)
              --prefetch-rate MIB     prefetch throttle in MiB/s (default 64; 0 = unlimited)
              --prefetch-yield-run KIB while the guest does I/O, prefetch one run of at most KIB at a time, then
                                      pause as long as it took (default 1024; smaller: shorter CPU bursts)
              --boot-trace-window S   for S seconds after the hand-off, send the blocks the guest reads first (in
                                      first-touch order, at most 16384) to the control plane (the image's learned
                                      boot order; default 300, 0 = never)
              --prefetch-order FILE   blocks to prefetch first (default: the priority the control plane hands over
                                      at start: this boot's remote reads, then the image's learned boot order): one index or
                                      range A-B per line, '#' comments; then everything else in order
              --boot-hold SECONDS     with a priority list and an NBD client attached, hold the rest of the image until
                                      the guest has read 90% of the list and paused reading for 1 s, at most SECONDS
                                      after the first client attached: its boot goes first. With no client attached
                                      nothing is held (default 30, 0 = no hold)
              --fetch-timeout SECONDS how long a read waits for the repository before failing with EIO (default 30)
              --read-ahead BLOCKS     blocks per read-ahead request for a sequential reader, which keeps 4 such
                                      requests in flight ahead of it (default: 4 MiB worth, at most 64)
              --workers N             NBD worker threads shared by all connections (default 8)
              --export-name NAME      NBD export name (default: the machine id; the empty name always works)
              --report-interval SECS  how often hydration progress is sent to the control plane (default 5)
              --metrics-listen H:PORT serve Prometheus metrics at http://H:PORT/metrics (e.g. 127.0.0.1:9464)
              --target NAME=URL       a second snapshot target besides the repository (target 1), with its own dirty
                                      bits: POST .../snapshots {"name","target":"NAME"} uploads to the control plane
                                      at URL (same machine id and credential). At most 1 (the block map has 2 targets)
              --upload-rate MIB       snapshot upload throttle in MiB/s (default 0 = unlimited)
              --debug                 log debug lines (e.g. failed hydration reports, which are retried)

            status: print present/dirty/total blocks of the cache and the prefetch state.
              --cache-dir DIR         the agent's cache directory
              --json                  print JSON instead of text
            """;

    /** Block digests computed at start so the JIT compiles the check before the guest's first misses. */
    static final int WARM_UP_ROUNDS = 300;
    /** Threads streaming read-ahead runs (each run is one request of up to --read-ahead blocks). */
    static final int READ_AHEAD_THREADS = 4;
    /** Prefetch runs (requests of up to 8 MiB) in flight at once when no guest miss is about. */
    static final int PREFETCH_RUNS = 3;
    /** Prefetched data is made durable (one fsync, one map commit) every this many bytes. */
    static final long PREFETCH_FLUSH_BYTES = 64L << 20;

    private Main() {
    }

    public static void main(String[] args) {
        System.exit(run(List.of(args), System.out, System.err));
    }

    static int run(List<String> args, PrintStream out, PrintStream err) {
        Options o;
        try {
            o = Options.parse(args);
            switch (o.command()) {
                case "help" -> {
                    out.print(USAGE);
                    return 0;
                }
                case "run" -> {
                    if (o.has("--help")) {
                        out.print(USAGE);
                        return 0;
                    }
                    o.allow(Set.of("--control-plane", "--machine", "--token", "--cache-dir", "--nbd-unix", "--nbd-listen",
                            "--prefetch", "--prefetch-rate", "--prefetch-yield-run", "--prefetch-order", "--boot-hold", "--fetch-timeout", "--read-ahead", "--workers", "--export-name",
                            "--report-interval", "--metrics-listen", "--debug", "--target", "--upload-rate",
                            "--boot-trace-window"));
                    return new Agent(o, line -> log(err, line)).runUntilStopped();
                }
                case "status" -> {
                    if (o.has("--help")) {
                        out.print(USAGE);
                        return 0;
                    }
                    o.allow(Set.of("--cache-dir", "--json"));
                    return status(o, out);
                }
                default -> throw new IllegalArgumentException("unknown command '" + o.command() + "'");
            }
        } catch (IllegalArgumentException e) {
            err.println("sluice-agent: " + e.getMessage());
            err.println("Try 'sluice-agent --help'.");
            return 2;
        } catch (IOException e) {
            err.println("sluice-agent: " + e.getMessage());
            return 1;
        }
    }

    static void log(PrintStream err, String line) {
        synchronized (err) {
            err.println(Instant.now() + " " + line);
        }
    }

    static int status(Options o, PrintStream out) throws IOException {
        CacheDir dir = new CacheDir(Path.of(o.require("--cache-dir")));
        CacheDir.Identity id = dir.loadIdentity();
        if (id == null || !Files.exists(dir.mapFile())) throw new IOException("no agent cache in " + dir.dir());
        BlockMap map;
        try (FileMapStore store = FileMapStore.openReadOnly(dir.mapFile())) {
            map = BlockMap.open(id.geometry(), store);
        }
        Properties st = dir.readStatus();
        long total = map.blockCount();
        long present = map.presentCount();
        long dirty = map.dirtyCount(BlockMap.REPOSITORY);
        String prefetch = present == total ? "complete" : st.getProperty("prefetch", "not running");
        long fetchedBlocks = Long.parseLong(st.getProperty("fetchedBlocks", "0"));
        long fetchedBytes = Long.parseLong(st.getProperty("fetchedBytes", "0"));
        if (o.has("--json")) {
            out.printf("{\"machineId\":\"%s\",\"imageId\":\"%s\",\"sizeBytes\":%d,\"blockSize\":%d,"
                            + "\"blocks\":{\"total\":%d,\"present\":%d,\"dirty\":%d},\"dirtyByTarget\":[%d,%d],\"snapshotCut\":%s,\"prefetch\":\"%s\","
                            + "\"fetched\":{\"blocks\":%d,\"bytes\":%d},\"pid\":%s}%n",
                    jsonEscape(id.machineId()), jsonEscape(id.imageId()), id.geometry().sizeBytes(), id.geometry().blockSize(),
                    total, present, dirty, map.dirtyCount(0), map.dirtyCount(1), Files.exists(dir.dir().resolve("snapshot.cut")),
                    jsonEscape(prefetch), fetchedBlocks, fetchedBytes, st.getProperty("pid", "null"));
        } else {
            out.printf("machine %s, image %s: %d bytes in %d blocks of %d bytes%n", id.machineId(), id.imageId(),
                    id.geometry().sizeBytes(), total, id.geometry().blockSize());
            out.printf("present %d / %d blocks (%.1f%%), dirty %d (repository), %d (target 1)%n", present, total, 100.0 * present / total, dirty,
                    map.dirtyCount(1));
            out.printf("prefetch: %s%n", prefetch);
            out.printf("fetched by the running (or last) agent: %d blocks, %d bytes%n", fetchedBlocks, fetchedBytes);
        }
        return 0;
    }

    private static String jsonEscape(String s) {
        StringBuilder b = new StringBuilder();
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.toString();
    }

    /**
     * Reads a priority list: one block index or inclusive range {@code A-B} per line, {@code #} comments.
     * Entries past the disk are dropped; at most {@code blockCount} entries are kept (memory is bounded).
     */
    static long[] readPrefetchOrder(Path file, long blockCount) throws IOException {
        java.util.List<Long> out = new java.util.ArrayList<>();
        int lineNo = 0;
        for (String line : Files.readAllLines(file)) {
            lineNo++;
            String t = line.replaceAll("#.*", "").trim();
            if (t.isEmpty()) continue;
            try {
                int dash = t.indexOf('-');
                long a = Long.parseLong((dash < 0 ? t : t.substring(0, dash)).trim());
                long b = dash < 0 ? a : Long.parseLong(t.substring(dash + 1).trim());
                for (long x = a; x <= Math.min(b, blockCount - 1) && out.size() < blockCount; x++) if (x >= 0) out.add(x);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(file + ":" + lineNo + ": expected a block index or range A-B");
            }
        }
        return out.stream().mapToLong(Long::longValue).toArray();
    }

    /** A running agent; stopped by SIGTERM/SIGINT (shutdown hook) after a final flush. */
    static final class Agent {
        private final Options o;
        private final Consumer<String> log;

        Agent(Options o, Consumer<String> log) {
            this.o = o;
            this.log = log;
        }

        int runUntilStopped() throws IOException {
            URI base = URI.create(o.require("--control-plane"));
            String machine = o.require("--machine");
            String token = o.get("--token", System.getenv().getOrDefault("SLUICE_TOKEN", ""));
            if (token.isEmpty()) throw new IllegalArgumentException("missing --token (or SLUICE_TOKEN)");
            CacheDir dir = new CacheDir(Path.of(o.require("--cache-dir")));
            String unix = o.get("--nbd-unix", null);
            String listen = o.get("--nbd-listen", null);
            if ((unix == null) == (listen == null)) throw new IllegalArgumentException("give exactly one of --nbd-unix or --nbd-listen");
            boolean prefetchOn = switch (o.get("--prefetch", "on")) {
                case "on" -> true;
                case "off" -> false;
                default -> throw new IllegalArgumentException("--prefetch takes on or off");
            };
            double rateMiB = Double.parseDouble(o.get("--prefetch-rate", "64"));
            if (rateMiB < 0) throw new IllegalArgumentException("--prefetch-rate must be >= 0");
            long yieldRunKiB = Long.parseLong(o.get("--prefetch-yield-run", "1024"));
            if (yieldRunKiB < 1) throw new IllegalArgumentException("--prefetch-yield-run must be >= 1");
            double bootHoldSeconds = Double.parseDouble(o.get("--boot-hold", "30"));
            if (bootHoldSeconds < 0) throw new IllegalArgumentException("--boot-hold must be >= 0");
            long fetchTimeoutNanos = (long) (Double.parseDouble(o.get("--fetch-timeout", "30")) * 1e9);
            if (fetchTimeoutNanos <= 0) throw new IllegalArgumentException("--fetch-timeout must be > 0");
            int workers = Integer.parseInt(o.get("--workers", "8"));
            double reportSeconds = Double.parseDouble(o.get("--report-interval", "5"));
            double bootTraceSeconds = Double.parseDouble(o.get("--boot-trace-window", "300"));
            if (bootTraceSeconds < 0) throw new IllegalArgumentException("--boot-trace-window must be >= 0");
            if (reportSeconds <= 0) throw new IllegalArgumentException("--report-interval must be > 0");
            double uploadRateMiB = Double.parseDouble(o.get("--upload-rate", "0"));
            if (uploadRateMiB < 0) throw new IllegalArgumentException("--upload-rate must be >= 0");
            List<String> targetNames = new java.util.ArrayList<>();
            List<URI> targetUrls = new java.util.ArrayList<>();
            for (String t : o.getAll("--target")) {
                int eq = t.indexOf('=');
                String name = eq < 0 ? "" : t.substring(0, eq);
                if (!name.matches("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")) {
                    throw new IllegalArgumentException("--target needs NAME=URL with NAME of 1-63 characters of a-z, 0-9 and '-'");
                }
                if (targetNames.contains(name)) throw new IllegalArgumentException("--target " + name + " is given twice");
                URI url = URI.create(t.substring(eq + 1));
                if (url.getScheme() == null || !url.getScheme().startsWith("http")) throw new IllegalArgumentException("--target " + name + ": URL must be http(s)");
                targetNames.add(name);
                targetUrls.add(url);
            }
            if (targetNames.size() > BlockMap.TARGETS - 1) {
                throw new IllegalArgumentException("at most " + (BlockMap.TARGETS - 1) + " --target (the block map tracks "
                        + BlockMap.TARGETS + " targets, the repository included)");
            }
            boolean debug = o.has("--debug");
            Consumer<String> debugLog = debug ? line -> log.accept("debug: " + line) : line -> { };
            Files.createDirectories(dir.dir());

            CacheDir.Identity id = identity(base, machine, token, dir);
            Geometry g = id.geometry();
            FileLocalStore local = new FileLocalStore(dir.cacheFile(), g.sizeBytes());
            FileMapStore mapStore = FileMapStore.open(dir.mapFile());
            BlockMap map = BlockMap.open(g, mapStore);
            BlockEngine.Settings defaults = BlockEngine.Settings.defaults(g);
            BlockEngine.Settings settings = new BlockEngine.Settings(
                    Integer.parseInt(o.get("--read-ahead", Integer.toString(defaults.readAheadBlocks()))), fetchTimeoutNanos);
            MeteredBlockSource source = new MeteredBlockSource(new HttpBlockSource(base, id.imageId(), token, g,
                    Duration.ofNanos(fetchTimeoutNanos), 6, log));
            // Read-ahead runs of several sequential readers (nbdcopy: 4 connections) stream at once.
            java.util.concurrent.ExecutorService readAhead = Executors.newFixedThreadPool(READ_AHEAD_THREADS, r -> {
                Thread t = new Thread(r, "read-ahead");
                t.setDaemon(true);
                return t;
            });
            BlockEngine engine = new BlockEngine(map, local, source, Clock.SYSTEM, settings, readAhead);
            log.accept(String.format("agent: machine %s, image %s, %d bytes, %d blocks of %d; %d present, %d dirty",
                    machine, id.imageId(), g.sizeBytes(), g.blockCount(), g.blockSize(), map.presentCount(),
                    map.dirtyCount(BlockMap.REPOSITORY)));

            // The status file first: `sluice-agent status` may be asked as soon as the export answers.
            writeStatus(dir, Progress.of(engine, source, prefetchOn ? "running" : "off"));
            NbdSession.Export export = new NbdSession.Export(o.get("--export-name", machine), "sluice machine " + machine, engine);
            NbdServer server;
            if (unix != null) {
                server = NbdServer.unix(Path.of(unix), export, workers, log);
            } else {
                int colon = listen.lastIndexOf(':');
                if (colon <= 0) throw new IllegalArgumentException("--nbd-listen needs HOST:PORT");
                server = NbdServer.tcp(new InetSocketAddress(listen.substring(0, colon), Integer.parseInt(listen.substring(colon + 1))),
                        export, workers, log);
            }
            log.accept("agent: NBD listening on " + server.localAddress());
            // The guest's kernel reads nothing for its first second or so: compile the block check meanwhile.
            Thread warm = new Thread(() -> {
                long nanos = HttpBlockSource.warmUp(g.blockSize(), WARM_UP_ROUNDS);
                debugLog.accept("warm-up: " + WARM_UP_ROUNDS + " block digests in " + nanos / 1_000_000 + " ms");
            }, "warm-up");
            warm.setDaemon(true);
            warm.setPriority(Thread.MIN_PRIORITY);
            warm.start();

            // The export is up, so the driver is initialized: hand off. The control plane ends the remote boot
            // phase and answers with what to prefetch first.
            BootClient bootClient = new BootClient(base, machine, token, Duration.ofSeconds(10), g.blockCount());
            BootClient.Handoff handoff = null;
            try {
                handoff = bootClient.handoff();
                log.accept("agent: handed off boot " + handoff.bootId() + "; prefetch priority: " + handoff.priority().length + " blocks");
            } catch (IOException | RuntimeException e) {
                log.accept("agent: hand-off failed (" + e.getMessage() + "); prefetch in disk order");
            }
            BootLearning learning = null;
            if (handoff != null && bootTraceSeconds > 0) {
                TouchTrace touches = new TouchTrace(TOUCH_TRACE_CAP);
                engine.traceTouches(touches);
                learning = new BootLearning(bootClient, handoff.bootId(), touches, log, debugLog);
                learning.start((long) (reportSeconds * 1000), (long) (bootTraceSeconds * 1000));
            }

            int batch = (int) Math.max(1, Math.min(256, (8L << 20) / g.blockSize()));
            PrefetchOrder order;
            if (o.has("--prefetch-order")) {
                order = PrefetchOrder.priorityFirst(readPrefetchOrder(Path.of(o.require("--prefetch-order")), g.blockCount()));
            } else if (handoff != null && handoff.priority().length > 0) {
                order = PrefetchOrder.priorityFirst(PrefetchOrder.runsWithinList(PrefetchOrder.sortedWithinWindows(handoff.priority(), batch), batch));
                engine.watchBootSet(new BootSetReads(handoff.priority()));
                if (prefetchOn) BootSetWatch.start(handoff.priority(), map, source, engine::demandMisses, log);
            } else {
                order = PrefetchOrder.sequential();
            }
            java.util.concurrent.ExecutorService prefetchRuns = Executors.newFixedThreadPool(PREFETCH_RUNS + 1, r -> { // + 1: the background flush
                Thread t = new Thread(r, "prefetch-run");
                t.setDaemon(true);
                return t;
            });
            Prefetcher prefetcher = new Prefetcher(engine, source, Clock.SYSTEM, order, (long) (rateMiB * (1 << 20)), batch,
                    fetchTimeoutNanos, new Prefetcher.Settings(PREFETCH_RUNS, PREFETCH_FLUSH_BYTES,
                            (int) Math.max(1, Math.min(batch, (yieldRunKiB << 10) / g.blockSize())), prefetchRuns), log)
                    .holdForBoot((long) (bootHoldSeconds * 1e9));
            java.util.function.Supplier<String> prefetchState = () -> prefetchOn ? prefetcher.state().name().toLowerCase() : "off";
            HydrationLoop hydration = new HydrationLoop(new HydrationReporter(base, machine, token, Duration.ofSeconds(10)),
                    () -> Progress.of(engine, source, prefetchState.get()), debugLog);
            // After the hand-off: a report updates the machine, and one concurrent with the hand-off's own update of it
            // made the hand-off fail with 409 (seen when reports started first; BootClient now retries that too).
            hydration.start((long) (reportSeconds * 1000));
            Thread prefetchThread = null;
            if (prefetchOn) {
                prefetchThread = new Thread(() -> {
                    prefetcher.run();
                    hydration.reportNow(); // "hydrated" as soon as prefetch completes, not at the next interval
                }, "prefetch");
                prefetchThread.setDaemon(true);
                prefetchThread.start();
            } else {
                log.accept("agent: prefetch off");
            }

            MetricsEndpoint metrics = null;
            if (o.has("--metrics-listen")) {
                String m = o.require("--metrics-listen");
                int colon = m.lastIndexOf(':');
                if (colon <= 0) throw new IllegalArgumentException("--metrics-listen needs HOST:PORT");
                metrics = new MetricsEndpoint(new InetSocketAddress(m.substring(0, colon), Integer.parseInt(m.substring(colon + 1))),
                        () -> hydration.prometheus(Progress.of(engine, source, prefetchState.get())));
                log.accept("agent: metrics at http://" + m.substring(0, colon) + ":" + metrics.address().getPort() + "/metrics");
            }
            List<SnapshotClient> snapshotClients = new java.util.ArrayList<>();
            snapshotClients.add(new SnapshotClient(base, machine, token, Duration.ofSeconds(120)));
            for (URI url : targetUrls) snapshotClients.add(new SnapshotClient(url, machine, token, Duration.ofSeconds(120)));
            SnapshotUploader snapshots = new SnapshotUploader(engine, new FileCutStore(dir.dir(), g.blockSize()),
                    new ControlChannel(base, machine, token), targetNames, snapshotClients, (long) (uploadRateMiB * (1 << 20)), log);
            snapshots.start();

            // Demand-fetched blocks become durable at the next flush; flush every few seconds so a
            // restart does not fetch them again.
            ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "agent-timer");
                t.setDaemon(true);
                return t;
            });
            timer.scheduleWithFixedDelay(() -> {
                try {
                    engine.flush();
                } catch (IOException e) {
                    log.accept("agent: periodic flush failed: " + e.getMessage());
                }
                writeStatus(dir, Progress.of(engine, source, prefetchState.get()));
            }, 1, 2, TimeUnit.SECONDS);
            writeStatus(dir, Progress.of(engine, source, prefetchOn ? "running" : "off"));

            CountDownLatch stopped = new CountDownLatch(1);
            Thread pf = prefetchThread;
            MetricsEndpoint metricsEndpoint = metrics;
            BootLearning bootLearning = learning;
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                log.accept("agent: stopping");
                prefetcher.stop();
                snapshots.stop();
                try {
                    server.close();
                    if (pf != null) pf.join(5000);
                    // Not shutdownNow(): an interrupt that lands in the periodic flush's fsync closes the cache file's
                    // channel (FileChannel is interruptible), and the final flush below then fails ("final flush
                    // failed: null", seen in bench/agent.sh when SIGTERM came during a periodic flush).
                    timer.shutdown();
                    timer.awaitTermination(10, TimeUnit.SECONDS);
                    engine.flush();
                    hydration.stop();
                    if (bootLearning != null) bootLearning.stop();
                    if (metricsEndpoint != null) metricsEndpoint.close();
                    writeStatus(dir, Progress.of(engine, source, "stopped"));
                } catch (IOException e) {
                    log.accept("agent: final flush failed: " + e.getMessage());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                stopped.countDown();
            }, "agent-shutdown"));
            try {
                stopped.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return 0;
        }

        private void writeStatus(CacheDir dir, Progress p) {
            try {
                dir.writeStatus("pid=" + ProcessHandle.current().pid() + "\nprefetch=" + p.prefetch() + "\nfetchedBlocks=" + p.blocksFetched()
                        + "\nfetchedBytes=" + p.bytesFetched() + "\nupdated=" + Instant.now() + "\n");
            } catch (IOException e) {
                log.accept("agent: could not write status: " + e.getMessage());
            }
        }

        /** Geometry from the control plane, or from the cache dir when the control plane is unreachable. */
        private CacheDir.Identity identity(URI base, String machine, String token, CacheDir dir) throws IOException {
            CacheDir.Identity saved = dir.loadIdentity();
            MachineInfo info;
            try {
                info = HttpBlockSource.fetchMachine(base, machine, token, Duration.ofSeconds(10));
            } catch (IOException e) {
                if (saved != null && saved.machineId().equals(machine)) {
                    log.accept("agent: control plane unreachable (" + e.getMessage() + "); serving from the cache, geometry from "
                            + dir.identityFile());
                    return saved;
                }
                throw new IOException("cannot get machine " + machine + " from the control plane and no cached geometry: " + e.getMessage(), e);
            }
            CacheDir.Identity fresh = new CacheDir.Identity(machine, info.imageId(), info.geometry());
            if (saved != null && !saved.equals(fresh)) {
                throw new IOException("cache dir " + dir.dir() + " holds image " + saved.imageId() + " " + saved.geometry()
                        + " but machine " + machine + " now has image " + fresh.imageId() + " " + fresh.geometry()
                        + "; move the cache dir away to start over");
            }
            if (saved == null) dir.saveIdentity(fresh);
            return fresh;
        }
    }
}

package dev.sluice.agent.e2e;

import dev.sluice.agent.fixture.FixtureControlPlane;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The built agent (target/classes) run as a separate JVM, as `java -jar` would run it. */
final class AgentProcess implements AutoCloseable {

    final Path cacheDir;
    final Path socket;
    final Path logFile;
    private final Process process;

    private AgentProcess(Path cacheDir, Path socket, Path logFile, Process process) {
        this.cacheDir = cacheDir;
        this.socket = socket;
        this.logFile = logFile;
        this.process = process;
    }

    static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    static List<String> agentCommand(String... args) {
        List<String> cmd = new ArrayList<>(List.of(java(), "-Xmx256m", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
                "-cp", Path.of("target", "classes").toAbsolutePath().toString(), "dev.sluice.agent.main.Main"));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** Starts `run` against the fixture, serving on {@code dir/nbd.sock}; returns once the socket is listening. */
    static AgentProcess start(FixtureControlPlane cp, Path dir, String... extra) throws IOException, InterruptedException {
        Path cache = dir.resolve("cache");
        Path sock = dir.resolve("nbd.sock");
        Path log = dir.resolve("agent-" + System.nanoTime() + ".log");
        List<String> args = new ArrayList<>(List.of("run", "--control-plane", cp.baseUri().toString(), "--machine", cp.machineId,
                "--token", cp.token, "--cache-dir", cache.toString()));
        if (!List.of(extra).contains("--nbd-listen")) args.addAll(List.of("--nbd-unix", sock.toString()));
        args.addAll(List.of(extra));
        Files.deleteIfExists(sock);
        Process p = new ProcessBuilder(agentCommand(args.toArray(String[]::new)))
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        AgentProcess a = new AgentProcess(cache, sock, log, p);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!a.log().contains("NBD listening")) {
            if (!p.isAlive()) throw new IOException("agent exited " + p.exitValue() + ": " + a.log());
            if (System.nanoTime() > deadline) throw new IOException("agent did not start: " + a.log());
            Thread.sleep(20);
        }
        return a;
    }

    String log() throws IOException {
        return Files.exists(logFile) ? Files.readString(logFile, StandardCharsets.UTF_8) : "";
    }

    String uri() {
        return "nbd+unix:///?socket=" + socket;
    }

    long pid() {
        return process.pid();
    }

    /** SIGKILL: no shutdown hook, no final flush. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    /** SIGTERM: the agent flushes and exits. */
    int stop() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(15, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(5, TimeUnit.SECONDS);
        }
        return process.exitValue();
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) kill();
    }

    /** Runs a command (a real NBD client) with a timeout; returns exit code and output. */
    record Result(int exit, String output) {
    }

    static Result run(int timeoutSeconds, String... command) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        // nbdsh runs `python3 -m nbd`: prefer the distribution's python3, which has the libnbd bindings.
        pb.environment().put("PATH", "/usr/bin:/bin:" + System.getenv().getOrDefault("PATH", ""));
        Process p = pb.start();
        byte[] out;
        try (var in = p.getInputStream()) {
            out = in.readAllBytes(); // the process ends, or the timeout below kills it and closes the stream
        }
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", command) + " timed out");
        }
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }
}

package dev.sluice.agent;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The real agent jar ({@code agent/target/sluice-agent.jar}, built by {@code mvn -f agent/pom.xml package}) run as
 * a process against the control plane under test, serving NBD on a unix socket in {@code dir}.
 */
final class AgentProcess implements AutoCloseable {
    static final Path JAR = Path.of("agent", "target", "sluice-agent.jar").toAbsolutePath();

    final Path dir;
    final Path cacheDir;
    final Path socket;
    final Path logFile;
    private final Process process;

    private AgentProcess(Path dir, Process process) {
        this.dir = dir;
        this.cacheDir = dir.resolve("cache");
        this.socket = dir.resolve("nbd.sock");
        this.logFile = dir.resolve("agent.log");
        this.process = process;
    }

    static Path jar() {
        if (!Files.isRegularFile(JAR)) {
            fail("the agent jar " + JAR + " is missing: build it first with `mvn -B -q -f agent/pom.xml package -DskipTests`"
                    + " (scripts/test-all.sh does this before the control plane's tests)");
        }
        return JAR;
    }

    static List<String> command(String... args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx512m", "-jar", jar().toString()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** Starts {@code run}; returns once the NBD socket listens. The token travels in SLUICE_TOKEN, not argv. */
    static AgentProcess start(int port, String machineId, String token, Path dir, String... extra) throws IOException, InterruptedException {
        return start(port, machineId, token, dir, java.util.Map.of(), extra);
    }

    /** {@link #start} with extra environment variables (e.g. a test-only fault injection). */
    static AgentProcess start(int port, String machineId, String token, Path dir, java.util.Map<String, String> env, String... extra)
            throws IOException, InterruptedException {
        Files.createDirectories(dir);
        List<String> args = new ArrayList<>(List.of("run", "--control-plane", "http://127.0.0.1:" + port, "--machine", machineId,
                "--cache-dir", dir.resolve("cache").toString(), "--nbd-unix", dir.resolve("nbd.sock").toString(),
                "--report-interval", "1"));
        args.addAll(List.of(extra));
        ProcessBuilder pb = new ProcessBuilder(command(args.toArray(String[]::new))).redirectErrorStream(true)
                .redirectOutput(dir.resolve("agent.log").toFile());
        pb.environment().put("SLUICE_TOKEN", token);
        pb.environment().putAll(env);
        AgentProcess a = new AgentProcess(dir, pb.start());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!a.log().contains("NBD listening")) {
            if (!a.process.isAlive()) {
                throw new IOException("agent exited " + a.process.exitValue() + ": " + a.log());
            }
            if (System.nanoTime() > deadline) {
                throw new IOException("agent did not start: " + a.log());
            }
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

    /** {@code sluice-agent status --json} of this agent's cache. */
    String status() throws IOException, InterruptedException {
        Result r = run(60, command("status", "--cache-dir", cacheDir.toString(), "--json").toArray(String[]::new));
        if (r.exit() != 0) {
            throw new IOException("status failed: " + r.output());
        }
        return r.output();
    }

    /** SIGKILL: no shutdown hook, no final flush (a crash as far as the agent can tell). */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    /** SIGTERM, then SIGKILL if it does not exit. */
    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }

    record Result(int exit, String output) {
    }

    /** Runs a real client with a timeout. /usr/bin first: nbdsh needs the distribution's python3 (libnbd bindings). */
    static Result run(int timeoutSeconds, String... command) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().put("PATH", "/usr/bin:/bin:" + System.getenv().getOrDefault("PATH", ""));
        Path out = Files.createTempFile("sluice-client", ".out");
        try {
            Process p = pb.redirectOutput(out.toFile()).start();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
                throw new IOException(String.join(" ", command) + " timed out after " + timeoutSeconds + " s: " + Files.readString(out));
            }
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
        }
    }
}

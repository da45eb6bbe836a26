package dev.sluice.agent.main;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * agent/bin/sluice-agent, the launcher with the class-data sharing archive, run with a stand-in for java (a script
 * that writes the archive it is asked for), so its file handling is tested without a JVM start per case.
 */
class LauncherScriptTest {
    private static final Path LAUNCHER = Path.of("bin/sluice-agent").toAbsolutePath();

    @TempDir
    Path tmp;

    @Test
    void aFirstRunWritesTheArchiveAndLaterRunsUseIt() throws Exception {
        Path cds = tmp.resolve("cds");
        assertEquals(0, launch(cds, "run", "--x"));
        List<Path> files = list(cds);
        assertEquals(1, files.size(), files.toString());
        assertTrue(files.get(0).getFileName().toString().matches("agent-\\d+\\.jsa"), files.toString());
        assertEquals(0, launch(cds, "run", "--y"));
        assertTrue(Files.readString(tmp.resolve("java.log")).lines().toList().get(1).contains("-XX:SharedArchiveFile=" + files.get(0)),
                Files.readString(tmp.resolve("java.log")));
    }

    @Test
    void aPartialArchiveOfAWriterThatIsGoneIsRemovedOneOfALiveWriterIsKept() throws Exception {
        Path cds = Files.createDirectories(tmp.resolve("cds"));
        Path dead = Files.writeString(cds.resolve("agent-123.jsa.2147483646.tmp"), "partial");
        Path live = Files.writeString(cds.resolve("agent-123.jsa." + ProcessHandle.current().pid() + ".tmp"), "being written");
        assertEquals(0, launch(cds, "status", "--cache-dir", tmp.toString()));
        assertFalse(Files.exists(dead), "a dead writer's partial archive stays behind");
        assertTrue(Files.exists(live), "a live writer's archive was removed under it");
    }

    @Test
    void everyRunGetsTheJitDirectivesUnlessSwitchedOffAStatusNever() throws Exception {
        Path cds = tmp.resolve("cds");
        String directives = "-XX:CompilerDirectivesFile=" + LAUNCHER.resolveSibling("sluice-agent.jit.json");
        assertEquals(0, launch(cds, "run", "--x"));
        assertEquals(0, launch(cds, "run", "--y"));
        assertEquals(0, launch(cds, "status", "--cache-dir", tmp.toString()));
        List<String> starts = Files.readString(tmp.resolve("java.log")).lines().toList();
        assertEquals(3, starts.size(), starts.toString());
        for (String run : starts.subList(0, 2)) {
            assertTrue(run.contains(directives) && run.contains("-XX:+DisplayVMOutputToStderr"), run);
        }
        assertFalse(starts.get(2).contains("CompilerDirectivesFile"), starts.get(2));
        assertEquals(0, launch(cds, Map.of("SLUICE_AGENT_JIT", "full"), "run", "--z"));
        String last = Files.readString(tmp.resolve("java.log")).lines().reduce((a, b) -> b).orElseThrow();
        assertFalse(last.contains("CompilerDirectivesFile"), last);
    }

    /**
     * The real JVM (the one running this test) accepts the directives file: a syntax error in it would stop every
     * agent from starting. Its "directives added" message goes to stderr: stdout carries `status --json`.
     */
    @Test
    void theJvmAcceptsTheDirectivesAndPrintsNothingOnStdout() throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        Process p = new ProcessBuilder(java, "-XX:+UnlockDiagnosticVMOptions",
                "-XX:CompilerDirectivesFile=" + LAUNCHER.resolveSibling("sluice-agent.jit.json"), "-XX:+DisplayVMOutputToStderr", "-version")
                .redirectOutput(tmp.resolve("out").toFile()).redirectError(tmp.resolve("err").toFile()).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "java -version did not end");
        String err = Files.readString(tmp.resolve("err"));
        assertEquals(0, p.exitValue(), err);
        assertTrue(err.contains("2 compiler directives added"), err);
        assertEquals("", Files.readString(tmp.resolve("out")));
    }

    private int launch(Path cds, String... args) throws Exception {
        return launch(cds, Map.of(), args);
    }

    /** Runs the launcher with the stand-in java; its arguments go to java.log, one line per start. */
    private int launch(Path cds, Map<String, String> env, String... args) throws Exception {
        // Written once per test: the archive's key includes both files' mtimes (whole seconds), and rewriting them for
        // every launch gave the second launch another key whenever a second boundary fell between the two.
        Path jar = tmp.resolve("agent.jar");
        Path fakeJava = tmp.resolve("java");
        if (Files.exists(fakeJava)) return start(cds, env, jar, fakeJava, args);
        Files.writeString(jar, "not a jar: the stand-in does not read it");
        Files.writeString(fakeJava, """
                #!/usr/bin/env bash
                echo "$*" >>"%s"
                for a in "$@"; do
                  case "$a" in -XX:ArchiveClassesAtExit=*) echo archive >"${a#-XX:ArchiveClassesAtExit=}" ;; esac
                done
                exit 0
                """.formatted(tmp.resolve("java.log")));
        Files.setPosixFilePermissions(fakeJava, PosixFilePermissions.fromString("rwxr-xr-x"));
        return start(cds, env, jar, fakeJava, args);
    }

    private int start(Path cds, Map<String, String> env, Path jar, Path fakeJava, String... args) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(Stream.concat(Stream.of("bash", LAUNCHER.toString()), Stream.of(args)).toList());
        pb.environment().put("JAVA", fakeJava.toString());
        pb.environment().put("SLUICE_AGENT_JAR", jar.toString());
        pb.environment().put("SLUICE_AGENT_CDS_DIR", cds.toString());
        pb.environment().remove("SLUICE_AGENT_JIT");
        pb.environment().remove("SLUICE_AGENT_JAVA_OPTS");
        pb.environment().putAll(env);
        pb.redirectErrorStream(true).redirectOutput(tmp.resolve("launcher.out").toFile());
        Process p = pb.start();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the launcher did not end");
        return p.exitValue();
    }

    private static List<Path> list(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }
}

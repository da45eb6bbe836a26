package dev.sluice.agent.e2e;

import dev.sluice.agent.fixture.FixtureControlPlane;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The built agent as a process, the test fixture as its control plane, and real NBD clients:
 * nbdinfo, nbdcopy, nbdsh, qemu-img.
 */
@Tag("slow")
class AgentEndToEndTest {

    static final int BS = 65536;
    @TempDir
    Path tmp;
    byte[] image;
    Path imageFile;
    FixtureControlPlane cp;
    AgentProcess agent;

    @BeforeEach
    void setUp() throws IOException {
        image = new byte[6 * 1024 * 1024 + 4321]; // short last block
        new Random(11).nextBytes(image);
        Arrays.fill(image, 2 * BS, 5 * BS, (byte) 0); // zero blocks travel as ZERO frames
        imageFile = tmp.resolve("image.raw");
        Files.write(imageFile, image);
        cp = new FixtureControlPlane(image, BS);
    }

    @AfterEach
    void tearDown() throws InterruptedException {
        if (agent != null) agent.close();
        cp.close();
    }

    @Test
    void realClientsReadTheImage() throws Exception {
        agent = AgentProcess.start(cp, tmp, "--prefetch", "off");
        AgentProcess.Result info = AgentProcess.run(30, "nbdinfo", agent.uri());
        assertEquals(0, info.exit(), info.output());
        assertTrue(info.output().contains("export-size: " + image.length), info.output());
        assertTrue(info.output().contains("can_multi_conn: true"), info.output());

        Path copy = tmp.resolve("copy.raw");
        AgentProcess.Result c = AgentProcess.run(60, "nbdcopy", agent.uri(), copy.toString());
        assertEquals(0, c.exit(), c.output());
        assertArrayEquals(image, Files.readAllBytes(copy));

        AgentProcess.Result cmp = AgentProcess.run(60, "qemu-img", "compare", "-f", "raw", "-F", "raw", imageFile.toString(), agent.uri());
        assertEquals(0, cmp.exit(), cmp.output());
        assertTrue(cmp.output().contains("Images are identical"), cmp.output());
    }

    @Test
    void servesOverTcpOnLoopback() throws Exception {
        int port;
        try (java.net.ServerSocket probe = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort();
        }
        agent = AgentProcess.start(cp, tmp, "--nbd-listen", "127.0.0.1:" + port, "--prefetch", "off");
        String uri = "nbd://127.0.0.1:" + port;
        AgentProcess.Result info = AgentProcess.run(30, "nbdinfo", "--size", uri);
        assertEquals(0, info.exit(), info.output());
        assertEquals(Integer.toString(image.length), info.output().trim());
        AgentProcess.Result cmp = AgentProcess.run(60, "qemu-img", "compare", "-f", "raw", "-F", "raw", imageFile.toString(), uri);
        assertEquals(0, cmp.exit(), cmp.output());
    }

    @Test
    void flushedWritesSurviveARestartWithoutTheControlPlane() throws Exception {
        agent = AgentProcess.start(cp, tmp, "--prefetch", "off", "--fetch-timeout", "2");
        String script = "h.pwrite(b'sluice' * 1000, " + (BS + 7) + ")\n"
                + "h.pwrite(b'\\x01' * " + BS + ", " + (3 * BS) + ")\n"
                + "h.flush()\n"
                + "assert h.pread(6, " + (BS + 7) + ") == b'sluice'\n";
        AgentProcess.Result w = AgentProcess.run(30, "nbdsh", "-u", agent.uri(), "-c", script);
        assertEquals(0, w.exit(), w.output() + agent.log());
        int exit = agent.stop();
        assertTrue(exit == 0 || exit == 143, "SIGTERM ends the agent cleanly: " + exit);

        cp.machineEndpointDown = true;
        cp.failNextRequests.set(1_000_000);
        agent = AgentProcess.start(cp, tmp, "--prefetch", "off", "--fetch-timeout", "2");
        assertTrue(agent.log().contains("control plane unreachable"), agent.log());
        String check = "assert h.pread(6000, " + (BS + 7) + ") == b'sluice' * 1000\n"
                + "assert h.pread(" + BS + ", " + (3 * BS) + ") == b'\\x01' * " + BS + "\n"
                + "import nbd\n"
                + "try:\n    h.pread(10, " + (10 * BS) + ")\n    raise SystemExit('absent block read without the repository')\n"
                + "except nbd.Error as e:\n    assert e.errnum == 5, e\n";
        AgentProcess.Result r = AgentProcess.run(30, "nbdsh", "-u", agent.uri(), "-c", check);
        assertEquals(0, r.exit(), r.output() + agent.log());

        AgentProcess.Result map = AgentProcess.run(30, "nbdinfo", "--map=sluice:blocks", agent.uri());
        assertEquals(0, map.exit(), map.output());
        // block 0 absent; 1 present+dirty (fetched then written); 2 absent; 3 present+dirty (whole-block write)
        assertTrue(map.output().contains("     65536       65536    3"), map.output());
        assertTrue(map.output().contains("    196608       65536    3"), map.output());
    }

    @Test
    void prefetchFillsTheDiskThenStopsForGood() throws Exception {
        agent = AgentProcess.start(cp, tmp, "--prefetch-rate", "0");
        long blocks = (image.length + BS - 1) / BS;
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (!agent.log().contains("prefetch complete")) {
            assertTrue(System.nanoTime() < deadline, agent.log());
            Thread.sleep(50);
        }
        assertEquals(blocks, cp.blocksServed.get(), "every block fetched exactly once");
        AgentProcess.Result st = AgentProcess.run(30, AgentProcess.agentCommand("status", "--cache-dir", agent.cacheDir.toString(), "--json").toArray(String[]::new));
        assertEquals(0, st.exit(), st.output());
        assertTrue(st.output().contains("\"present\":" + blocks), st.output());
        assertTrue(st.output().contains("\"prefetch\":\"complete\""), st.output());
        agent.stop();

        agent = AgentProcess.start(cp, tmp);
        deadline = System.nanoTime() + 10_000_000_000L;
        while (!agent.log().contains("prefetch complete")) {
            assertTrue(System.nanoTime() < deadline, agent.log());
            Thread.sleep(50);
        }
        assertEquals(blocks, cp.blocksServed.get(), "a restart after completion fetches nothing");
        Path copy = tmp.resolve("copy.raw");
        assertEquals(0, AgentProcess.run(60, "nbdcopy", agent.uri(), copy.toString()).exit());
        assertArrayEquals(image, Files.readAllBytes(copy));
    }

    @Test
    void reportsHydrationDespiteFailedReportsAndServesMetrics() throws Exception {
        cp.hydrationDown = true; // reports fail at first: the agent must keep serving and keep trying
        agent = AgentProcess.start(cp, tmp, "--prefetch-rate", "0", "--report-interval", "0.2",
                "--metrics-listen", "127.0.0.1:0", "--debug");
        long blocks = (image.length + BS - 1) / BS;
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (!agent.log().contains("prefetch complete")) {
            assertTrue(System.nanoTime() < deadline, agent.log());
            Thread.sleep(50);
        }
        // Prefetch does not wait for the reports' HTTP client: it may complete before the first (failing) report.
        while (!agent.log().contains("debug: hydration report failed")) {
            assertTrue(System.nanoTime() < deadline, agent.log());
            Thread.sleep(50);
        }
        cp.hydrationDown = false;
        String hydrated = "\"presentBlocks\":" + blocks + ",\"totalBlocks\":" + blocks + ",\"dirtyBlocks\":0,\"bytesFetched\":" + image.length;
        while (cp.hydrationReports.stream().noneMatch(r -> r.contains(hydrated) && r.contains("\"state\":\"hydrated\""))) {
            assertTrue(System.nanoTime() < deadline, cp.hydrationReports + agent.log());
            Thread.sleep(50);
        }
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("metrics at (http://\\S+)").matcher(agent.log());
        assertTrue(m.find(), agent.log());
        String metrics = new String(java.net.URI.create(m.group(1)).toURL().openStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(metrics.contains("sluice_agent_present_blocks " + blocks + "\n"), metrics);
        assertTrue(metrics.contains("sluice_agent_hydrated 1\n"), metrics);
        assertTrue(metrics.contains("sluice_agent_fetched_bytes_total " + image.length + "\n"), metrics);
        assertTrue(metrics.contains("sluice_agent_prefetch_state{state=\"complete\"} 1"), metrics);
        assertTrue(metrics.matches("(?s).*sluice_agent_hydration_report_failures_total [1-9].*"), metrics);
        assertFalse(agent.log().contains(cp.token), "the token is never logged");
    }

    @Test
    void aBlockFailingItsDigestIsEioNotData() throws Exception {
        cp.corruptBlocks.add(5L);
        agent = AgentProcess.start(cp, tmp, "--prefetch", "off", "--fetch-timeout", "3");
        String script = "import nbd\n"
                + "assert h.pread(100, " + (4 * BS) + ") == bytes(100)\n"
                + "try:\n    h.pread(100, " + (5 * BS) + ")\n    raise SystemExit('corrupt block was served')\n"
                + "except nbd.Error as e:\n    assert e.errnum == 5, e\n";
        AgentProcess.Result r = AgentProcess.run(30, "nbdsh", "-u", agent.uri(), "-c", script);
        assertEquals(0, r.exit(), r.output() + agent.log());
        assertTrue(agent.log().contains("digest mismatch"), agent.log());
    }

    @Test
    void helpDocumentsEveryFlagAndStatusReadsTheCache() throws Exception {
        AgentProcess.Result help = AgentProcess.run(30, AgentProcess.agentCommand("--help").toArray(String[]::new));
        assertEquals(0, help.exit());
        for (String flag : new String[]{"--control-plane", "--machine", "--token", "--cache-dir", "--nbd-unix", "--nbd-listen",
                "--prefetch-rate", "--prefetch", "--fetch-timeout", "--json"}) {
            assertTrue(help.output().contains(flag), flag);
        }
        AgentProcess.Result bad = AgentProcess.run(30, AgentProcess.agentCommand("run", "--bogus", "1").toArray(String[]::new));
        assertEquals(2, bad.exit(), bad.output());

        agent = AgentProcess.start(cp, tmp, "--prefetch", "off");
        assertEquals(0, AgentProcess.run(30, "nbdsh", "-u", agent.uri(), "-c", "h.pwrite(b'x', 0)\nh.flush()\n").exit());
        AgentProcess.Result st = AgentProcess.run(30, AgentProcess.agentCommand("status", "--cache-dir", agent.cacheDir.toString()).toArray(String[]::new));
        assertEquals(0, st.exit(), st.output());
        assertTrue(st.output().contains("present 1 / 97 blocks"), st.output());
        assertTrue(st.output().contains("dirty 1"), st.output());
        assertTrue(st.output().contains("prefetch: off"), st.output());
    }
}

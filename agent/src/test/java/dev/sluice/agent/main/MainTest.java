package dev.sluice.agent.main;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class MainTest {

    @TempDir
    Path tmp;

    private int run(ByteArrayOutputStream out, ByteArrayOutputStream err, String... args) {
        return Main.run(List.of(args), new PrintStream(out, true), new PrintStream(err, true));
    }

    @Test
    void helpListsEveryFlag() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        assertEquals(0, run(out, err, "--help"));
        for (String f : List.of("--control-plane", "--machine", "--token", "--cache-dir", "--nbd-unix", "--nbd-listen", "--prefetch",
                "--prefetch-rate", "--prefetch-order", "--fetch-timeout", "--read-ahead", "--workers", "--export-name", "--json")) {
            assertTrue(out.toString().contains(f), f);
        }
    }

    @Test
    void badCommandLinesExitWithTwoAndSayWhy() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        assertEquals(2, run(out, err, "frobnicate"));
        assertEquals(2, run(out, err, "run", "--control-plane"));
        assertEquals(2, run(out, err, "run", "--control-plane", "http://127.0.0.1:1", "--machine", "m", "--token", "t",
                "--cache-dir", tmp.toString()));
        assertTrue(err.toString().contains("exactly one of --nbd-unix or --nbd-listen"), err.toString());
        assertEquals(2, run(out, err, "status", "--cache-dir", tmp.toString(), "--verbose"));
    }

    @Test
    void statusWithoutACacheFails() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        assertEquals(1, run(out, err, "status", "--cache-dir", tmp.toString()));
        assertTrue(err.toString().contains("no agent cache"), err.toString());
    }

    @Test
    void prefetchOrderFileTakesIndicesRangesAndComments() throws Exception {
        Path f = tmp.resolve("order");
        Files.writeString(f, "# boot order\n7\n100-102  # kernel\n\n98-200\n500\n");
        assertArrayEquals(new long[]{7, 100, 101, 102, 98, 99, 100, 101, 102, 103}, Main.readPrefetchOrder(f, 104));
        Files.writeString(f, "abc\n");
        assertThrows(IllegalArgumentException.class, () -> Main.readPrefetchOrder(f, 10));
    }
}

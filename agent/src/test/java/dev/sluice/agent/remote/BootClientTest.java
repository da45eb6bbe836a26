package dev.sluice.agent.remote;

import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The agent's hand-off and miss reports against a real HTTP server: what it accepts and what it sends. */
class BootClientTest {
    static final String BOOT = "boot_01m8acrvahr3w7cddea62mxany";

    private HttpServer server;
    private volatile String handoffAnswer;
    /** Answers given before handoffAnswer, one per request: status and body. */
    private final java.util.concurrent.ConcurrentLinkedQueue<Object[]> handoffFirst = new java.util.concurrent.ConcurrentLinkedQueue<>();
    private volatile int missesStatus = 204;
    private final List<String> missBodies = new CopyOnWriteArrayList<>();
    private final List<String> auth = new CopyOnWriteArrayList<>();
    private BootClient client;

    @BeforeEach
    void start() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/api/v1/machines/mch_1/boot-handoff", ex -> {
            auth.add(ex.getRequestHeaders().getFirst("Authorization"));
            Object[] first = handoffFirst.poll();
            byte[] body = (first != null ? (String) first[1] : handoffAnswer).getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(first != null ? (Integer) first[0] : 200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        server.createContext("/api/v1/machines/mch_1/boot-misses", ex -> {
            missBodies.add(new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
            ex.sendResponseHeaders(missesStatus, -1);
            ex.close();
        });
        server.start();
        client = new BootClient(URI.create("http://127.0.0.1:" + server.getAddress().getPort()), "mch_1",
                "secret", Duration.ofSeconds(5), 100);
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    @Test
    void theHandoffPriorityKeepsOnlyIndicesWithinTheDisk() throws IOException {
        handoffAnswer = "{\"bootId\":\"" + BOOT + "\",\"imageId\":\"img_x\",\"priority\":[5,99,100,-1,7,\"x\",3.5,0]}";
        BootClient.Handoff h = client.handoff();
        assertEquals(BOOT, h.bootId());
        assertArrayEquals(new long[]{5, 99, 7, 0}, h.priority());
        assertEquals("Bearer secret", auth.get(0));
    }

    @Test
    void aHandoffRolledBackByAConcurrentUpdateIsRetriedAndOtherConflictsAreNot() throws IOException {
        String concurrent = "{\"type\":\"https://sluice.dev/problems/concurrent-modification\",\"status\":409}";
        handoffFirst.add(new Object[]{409, concurrent});
        handoffFirst.add(new Object[]{409, concurrent});
        handoffAnswer = "{\"bootId\":\"" + BOOT + "\",\"priority\":[1]}";
        assertArrayEquals(new long[]{1}, client.handoff().priority());
        assertEquals(3, auth.size(), "two retries");

        handoffFirst.add(new Object[]{409, "{\"type\":\"https://sluice.dev/problems/conflict\",\"status\":409}"});
        IOException e = assertThrows(IOException.class, () -> client.handoff());
        assertTrue(e.getMessage().contains("409") && !e.getMessage().contains("secret"), e.getMessage());
        assertEquals(4, auth.size(), "another conflict is not retried");
    }

    @Test
    void aHandoffAnswerWithoutAWellFormedBootIdIsRefused() {
        for (String answer : new String[]{"{\"bootId\":\"boot_x\",\"priority\":[]}", "{\"priority\":[1]}", "[]",
                "{\"bootId\":\"" + BOOT + "\"}", "not json"}) {
            handoffAnswer = answer;
            assertThrows(RuntimeException.class, () -> {
                try {
                    client.handoff();
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            }, answer);
        }
    }

    @Test
    void missesGoOutInOrderInRequestsOfAtMost4096() throws IOException {
        long[] blocks = new long[4097];
        for (int i = 0; i < blocks.length; i++) blocks[i] = blocks.length - i;
        client.reportMisses(BOOT, blocks);
        assertEquals(2, missBodies.size());
        assertTrue(missBodies.get(0).startsWith("{\"bootId\":\"" + BOOT + "\",\"blocks\":[4097,4096,"), missBodies.get(0));
        assertEquals("{\"bootId\":\"" + BOOT + "\",\"blocks\":[1]}", missBodies.get(1));
        missesStatus = 409;
        IOException e = assertThrows(IOException.class, () -> client.reportMisses(BOOT, new long[]{1}));
        assertTrue(e.getMessage().contains("409") && !e.getMessage().contains("secret"), e.getMessage());
    }
}

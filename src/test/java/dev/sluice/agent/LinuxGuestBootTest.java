package dev.sluice.agent;

import static dev.sluice.api.Api.as;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.api.Api;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real Linux guest (Debian 12 kernel, busybox initrd, debootstrap minbase root in a 1 GiB ext4 image; see
 * {@link LinuxGuest}) boots in qemu (TCG) with its root disk on the agent's NBD export: hypervisor mode
 * (issue 6, acceptance 2-4).
 * <ol>
 *   <li>Machine 1, prefetch off: the guest prints its ready marker; the agent fetched a small fraction of the
 *       image; the guest's writes are dirty in the agent and absent from the control plane's image. Its agent
 *       reported the blocks its guest read first (first-touch order, hits included), which become the image's learned boot profile.</li>
 *   <li>Machine 2, same image, prefetch on: the hand-off gives it the learned profile as its prefetch priority, and
 *       its guest waits on fewer demand round trips than machine 1's. Times are printed, not asserted.</li>
 * </ol>
 */
@QuarkusTest
@Tag("slow")
class LinuxGuestBootTest {
    static final int BS = 65536;
    static final int ROOT_MIB = 1024;
    static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @TempDir
    Path tmp;

    record Boot(long readyNanos, Map<String, Long> metrics) {
        long get(String name) {
            return metrics.get(name);
        }
    }

    @Test
    void aLinuxGuestBootsFromTheAgentsExportAndASecondMachineBootsFasterWithTheLearnedOrder() throws Exception {
        AgentProcess.jar();
        LinuxGuest guest = LinuxGuest.cached(ROOT_MIB);
        Api.Tenant tenant = Api.Tenant.create();
        long size = (long) ROOT_MIB << 20;
        String image = upload(tenant, guest.rootfs, size);

        // --- machine 1: a cold boot, demand fetch only ---
        String first = tenant.machine(image);
        String nonce1 = nonce();
        Boot boot1;
        try (AgentProcess agent = AgentProcess.start(RestAssured.port, first, credential(tenant, first), tmp.resolve("agent1"),
                "--prefetch", "off", "--metrics-listen", "127.0.0.1:0")) {
            assertTrue(handoffLine(agent).contains("prefetch priority: 0 blocks"), agent.log());
            boot1 = bootUntilReady(guest, agent, tmp.resolve("vm1"), nonce1);
            long fetched = boot1.get("sluice_agent_fetched_bytes_total");
            System.out.printf("machine 1 (cold, demand only): ready after %d ms; fetched %d bytes of the %d-byte image (%.1f%%) in %d requests;"
                            + " the guest waited on %d demand misses%n", boot1.readyNanos() / 1_000_000, fetched, size, 100.0 * fetched / size,
                    boot1.get("sluice_agent_fetch_requests_total"), boot1.get("sluice_agent_demand_misses_total"));
            assertTrue(fetched > 0 && fetched * 10 < size, "a boot reads a small fraction of the image: " + fetched + " of " + size);

            // The guest's writes: dirty in the agent, holding the text the guest wrote; the control plane keeps the image.
            AgentProcess.Result map = AgentProcess.run(60, "nbdinfo", "--map=sluice:blocks", agent.uri());
            assertEquals(0, map.exit(), map.output());
            List<long[]> dirty = extents(map.output(), type -> (type & 2) != 0);
            assertFalse(dirty.isEmpty(), "the guest's writes are dirty in the agent: " + map.output());
            String wrote = LinuxGuest.WROTE + nonce1;
            assertTrue(agentHolds(agent, dirty, wrote), "the agent's dirty blocks hold '" + wrote + "'");
            for (long[] extent : dirty) {
                byte[] served = controlPlaneRange(tenant, image, extent[0], extent[1]);
                assertTrue(java.util.Arrays.equals(served, fileRange(guest.rootfs, extent[0], extent[1])),
                        "the control plane still serves the uploaded bytes at " + extent[0] + "+" + extent[1]);
                assertFalse(new String(served, StandardCharsets.ISO_8859_1).contains(wrote));
            }
            System.out.println("guest writes: " + dirty.stream().mapToLong(e -> e[1]).sum() / BS + " dirty blocks in the agent, none in the control plane's image");
        } // SIGTERM: the agent sends the rest of its misses before it exits

        List<Map<String, Object>> boots = as(tenant.viewer()).get("/api/v1/machines/" + first + "/boots").then().statusCode(200)
                .extract().path("items");
        assertEquals("agent", boots.get(0).get("phase"), boots::toString);
        int learned = ((Number) boots.get(0).get("agentBlocks")).intValue();
        List<Integer> profile = as(tenant.viewer()).get("/api/v1/images/" + image + "/boot-profile").path("blocks");
        System.out.println("learned boot profile of the image: " + profile.size() + " blocks (machine 1 reported " + learned + " first-touch reads)");
        assertTrue(learned > 0 && profile.size() == learned, boots + " / profile of " + profile.size());

        // --- machine 2: the same image, with the learned order ---
        String second = tenant.machine(image);
        Boot boot2;
        try (AgentProcess agent = AgentProcess.start(RestAssured.port, second, credential(tenant, second), tmp.resolve("agent2"),
                "--metrics-listen", "127.0.0.1:0")) {
            assertTrue(handoffLine(agent).contains("prefetch priority: " + profile.size() + " blocks"), agent.log());
            boot2 = bootUntilReady(guest, agent, tmp.resolve("vm2"), nonce());
            Matcher bootSet = Pattern.compile("boot set present: .*").matcher(agent.log());
            System.out.println("machine 2 " + (bootSet.find() ? bootSet.group() : "(boot set not complete at ready)")
                    + "; machine 1 fetched its by demand in " + boot1.get("sluice_agent_fetch_requests_total") + " requests until ready");
        }
        System.out.printf("machine 2 (learned order): ready after %d ms; the guest waited on %d demand misses (machine 1: %d, ready after %d ms);"
                        + " %d requests, %d bytes fetched by then (prefetch included)%n",
                boot2.readyNanos() / 1_000_000, boot2.get("sluice_agent_demand_misses_total"), boot1.get("sluice_agent_demand_misses_total"),
                boot1.readyNanos() / 1_000_000, boot2.get("sluice_agent_fetch_requests_total"), boot2.get("sluice_agent_fetched_bytes_total"));
        assertTrue(boot2.get("sluice_agent_demand_misses_total") < boot1.get("sluice_agent_demand_misses_total"),
                "the second machine's guest waits on fewer round trips");
    }

    private Boot bootUntilReady(LinuxGuest guest, AgentProcess agent, Path dir, String nonce) throws Exception {
        try (LinuxGuest.Vm vm = guest.boot(dir, agent.uri(), nonce)) {
            long ready = vm.await(LinuxGuest.READY + nonce, 300);
            Map<String, Long> metrics = metrics(agent);
            assertTrue(ready > 0, () -> {
                try {
                    return "no ready marker: " + vm.describe() + "\nagent:\n" + agent.log();
                } catch (java.io.IOException e) {
                    return e.toString();
                }
            });
            return new Boot(ready, metrics);
        }
    }

    /** The agent hands off right after its export is up (AgentProcess.start returns then): its log line. */
    private static String handoffLine(AgentProcess agent) throws Exception {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (System.nanoTime() < deadline) {
            Matcher m = Pattern.compile("agent: hand(ed off|-off failed)[^\n]*").matcher(agent.log());
            if (m.find()) {
                return m.group();
            }
            Thread.sleep(20);
        }
        throw new AssertionError("no hand-off: " + agent.log());
    }

    private static Map<String, Long> metrics(AgentProcess agent) throws Exception {
        Matcher m = Pattern.compile("metrics at (http://\\S+/metrics)").matcher(agent.log());
        assertTrue(m.find(), agent.log());
        String text = HTTP.send(HttpRequest.newBuilder(URI.create(m.group(1))).build(), HttpResponse.BodyHandlers.ofString()).body();
        Map<String, Long> out = new java.util.HashMap<>();
        for (String line : text.split("\n")) {
            if (!line.startsWith("#") && line.matches("sluice_agent_[a-z_]+ \\d+")) {
                String[] f = line.split(" ");
                out.put(f[0], Long.parseLong(f[1]));
            }
        }
        return out;
    }

    private static String upload(Api.Tenant tenant, Path file, long size) throws Exception {
        String imageId = as(tenant.member()).body(Map.of("name", Api.unique("linux"), "sizeBytes", size, "blockSize", BS))
                .post("/api/v1/images").then().statusCode(201).extract().path("id");
        // curl, bounded in time: a stalled upload fails the test instead of hanging it.
        AgentProcess.Result r = AgentProcess.run(900, "curl", "-sS", "--fail-with-body", "-T", file.toString(),
                "-H", "Authorization: Bearer " + tenant.member(), "-H", "Content-Type: application/octet-stream",
                "http://127.0.0.1:" + RestAssured.port + "/api/v1/images/" + imageId + "/content");
        assertEquals(0, r.exit(), r.output());
        as(tenant.viewer()).get("/api/v1/images/" + imageId).then().statusCode(200).body("state", org.hamcrest.Matchers.equalTo("available"));
        return imageId;
    }

    private static String credential(Api.Tenant tenant, String machine) {
        String secret = as(tenant.member()).body(Map.of("name", "agent")).post("/api/v1/machines/" + machine + "/credentials")
                .then().statusCode(201).extract().path("secret");
        Api.SECRETS.add(secret);
        return secret;
    }

    private static String nonce() {
        byte[] b = new byte[6];
        new SecureRandom().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    /** [offset, length] of the map's extents whose type matches. */
    private static List<long[]> extents(String map, java.util.function.LongPredicate type) {
        List<long[]> out = new ArrayList<>();
        for (String line : map.strip().split("\n")) {
            String[] f = line.strip().split("\\s+");
            if (type.test(Long.parseLong(f[2]))) {
                out.add(new long[]{Long.parseLong(f[0]), Long.parseLong(f[1])});
            }
        }
        return out;
    }

    private static boolean agentHolds(AgentProcess agent, List<long[]> extents, String text) throws Exception {
        StringBuilder script = new StringBuilder("found = False\n");
        for (long[] e : extents) {
            for (long off = e[0]; off < e[0] + e[1]; off += 4L << 20) {
                long len = Math.min(4L << 20, e[0] + e[1] - off);
                script.append("found = found or b'").append(text).append("' in h.pread(").append(len).append(", ").append(off).append(")\n");
            }
        }
        script.append("print('FOUND' if found else 'MISSING')\n");
        AgentProcess.Result r = AgentProcess.run(120, "nbdsh", "-u", agent.uri(), "-c", script.toString());
        assertEquals(0, r.exit(), r.output());
        return r.output().contains("FOUND");
    }

    private static byte[] controlPlaneRange(Api.Tenant tenant, String image, long offset, long length) throws Exception {
        HttpRequest get = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + RestAssured.port + "/api/v1/images/" + image + "/disk"))
                .header("Authorization", "Bearer " + tenant.viewer()).header("Range", "bytes=" + offset + "-" + (offset + length - 1)).build();
        HttpResponse<byte[]> r = HTTP.send(get, HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(206, r.statusCode());
        return r.body();
    }

    private static byte[] fileRange(Path file, long offset, long length) throws Exception {
        try (FileChannel ch = FileChannel.open(file)) {
            ByteBuffer buf = ByteBuffer.allocate((int) length);
            while (buf.hasRemaining() && ch.read(buf, offset + buf.position()) >= 0) {
                // read fully
            }
            return buf.array();
        }
    }
}

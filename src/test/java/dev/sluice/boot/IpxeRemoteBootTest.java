package dev.sluice.boot;

import static dev.sluice.api.Api.as;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.api.Api;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Remote boot through the boot endpoint (issue 6, acceptance 1): qemu (TCG, user-mode network, Debian's ipxe-qemu
 * ROM) gets {@code http://10.0.2.2:PORT/boot/v1/ipxe?mac=${net0/mac}} as its DHCP bootfile, iPXE runs the script
 * the control plane answers for the machine registered with the NIC's MAC, sanboots the image from the signed,
 * machine- and boot-bound disk URL, and the boot sector reads a sector in the disk's last MiB and prints its marker.
 * The machine is then BOOTING with one remote boot whose read trace holds block 0 and the far sector's block.
 */
@QuarkusTest
@Tag("slow")
class IpxeRemoteBootTest {
    static final long SIZE = 72L * 1024 * 1024 + 7 * 512;

    @TempDir
    Path dir;

    @Test
    void qemuBootsTheMachinesImageThroughTheBootEndpointAndTheBootIsTraced() throws Exception {
        Api.Tenant tenant = Api.Tenant.create();
        BootDisk.Image disk = BootDisk.ofSize(SIZE).build(dir, "disk.img");
        String image = as(tenant.member()).body(Map.of("name", Api.unique("boot"), "sizeBytes", SIZE)).post("/api/v1/images")
                .then().statusCode(201).extract().path("id");
        io.restassured.RestAssured.given().header("Authorization", "Bearer " + tenant.member()).contentType("application/octet-stream")
                .body(Files.readAllBytes(disk.path())).put("/api/v1/images/" + image + "/content").then().statusCode(200);
        String mac = BootEndpointTest.randomMac();
        String machine = as(tenant.member()).body(Map.of("name", Api.unique("pxe"), "imageId", image, "mac", mac)).post("/api/v1/machines")
                .then().statusCode(201).extract().path("id");

        String bootfile = "http://10.0.2.2:" + RestAssured.port + "/boot/v1/ipxe?mac=${net0/mac}";
        QemuIpxe.Result result = QemuIpxe.in(dir.resolve("qemu")).mac(mac)
                .boot(QemuIpxe.Boot.httpBootfile(bootfile), disk.expectedSerialLine(), Duration.ofSeconds(180));
        System.out.println("remote boot through /boot/v1/ipxe: " + result.outcome() + " after " + result.elapsed().toMillis() + " ms");
        assertEquals(QemuIpxe.Outcome.EXPECTED, result.outcome(), result::toString);

        assertEquals("booting", as(tenant.viewer()).get("/api/v1/machines/" + machine).path("state"));
        long farBlock = disk.farLba() * BootDisk.SECTOR_SIZE / (64 * 1024);
        List<Integer> trace = List.of();
        long deadline = System.nanoTime() + 20_000_000_000L; // the trace is written in the background, every 500 ms
        while (System.nanoTime() < deadline) {
            trace = as(tenant.viewer()).get("/api/v1/images/" + image + "/boot-profile").path("blocks");
            if (trace.contains(0) && trace.contains((int) farBlock)) {
                break;
            }
            Thread.sleep(200);
        }
        List<Map<String, Object>> boots = as(tenant.viewer()).get("/api/v1/machines/" + machine + "/boots").then().statusCode(200)
                .extract().path("items");
        System.out.println("boots: " + boots + "\nread trace (blocks, first-touch order): " + trace);
        assertEquals(1, boots.size(), boots::toString);
        assertEquals("remote", boots.get(0).get("phase"));
        assertEquals(0, trace.get(0), "the boot sector's block is touched first: " + trace);
        assertTrue(trace.contains((int) farBlock), "the far sector's block " + farBlock + " is in the trace: " + trace);
        assertEquals(trace.size(), ((Number) boots.get(0).get("remoteBlocks")).intValue());
    }
}

package dev.sluice.content;

import static dev.sluice.api.Api.as;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.api.Api;
import dev.sluice.boot.BootDisk;
import dev.sluice.boot.QemuIpxe;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * iPXE (Debian's ipxe-qemu ROM, qemu-system-x86_64 under TCG, user-mode network) sanboots an image straight
 * from the disk endpoint through a signed URL; the boot sector reads a sector in the disk's last MiB through
 * BIOS int 13h and prints its marker on the serial port.
 */
@QuarkusTest
@Tag("slow")
class IpxeSanbootTest {
    /** Past 64 MiB and not a whole number of blocks: the last block is short. */
    static final long SIZE = 72L * 1024 * 1024 + 7 * 512;

    @TempDir
    Path dir;

    @Test
    void iPxeSanbootsTheSignedDiskUrlAndTheBootSectorReadsFarIntoTheDisk() throws Exception {
        Api.Tenant tenant = Api.Tenant.create();
        BootDisk.Image disk = BootDisk.ofSize(SIZE).build(dir, "disk.img");
        String image = as(tenant.member()).body(Map.of("name", Api.unique("boot"), "sizeBytes", SIZE)).post("/api/v1/images")
                .then().statusCode(201).extract().path("id");
        Disks.run(Disks.curl(tenant.member(), "-T", disk.path().toString(), Disks.baseUrl() + "/api/v1/images/" + image + "/content"));
        String signed = as(tenant.viewer()).body(Map.of("ttlSeconds", 600)).post("/api/v1/images/" + image + "/disk-url").path("url");
        // 10.0.2.2 is the host's loopback as seen from qemu's user-mode network.
        String url = "http://10.0.2.2:" + RestAssured.port + signed;

        QemuIpxe.Result result = QemuIpxe.in(dir.resolve("qemu"))
                .boot(QemuIpxe.Boot.tftpScript("#!ipxe\nsanboot " + url + "\n"), disk.expectedSerialLine(), Duration.ofSeconds(180));
        System.out.println("iPXE sanboot from the disk endpoint: " + result.outcome() + " after " + result.elapsed().toMillis() + " ms");
        assertEquals(QemuIpxe.Outcome.EXPECTED, result.outcome(), result::toString);
        assertTrue(result.serial().contains(disk.expectedSerialLine()), result::toString);
    }
}

package dev.sluice.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.boot.NginxFileServer.Request;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves the remote-boot harness end to end against a real HTTP server with Range support (nginx): iPXE under
 * {@code qemu-system-x86_64} (TCG, user-mode network, Debian's ipxe-qemu ROM) {@code sanboot}s a disk image over HTTP,
 * SeaBIOS runs its boot sector, and the boot sector reads a sector in the last MiB of the disk through int 13h and
 * prints that sector's marker on COM1.
 *
 * <p>Each test prints the time the boot took and the HTTP requests iPXE made (method, Range, size).
 */
@Tag("slow")
class IpxeSanbootHarnessTest {

    private static final Duration BOOT_TIMEOUT = Duration.ofSeconds(120);
    /** 72 MiB and 7 sectors: past 64 MiB, and not a whole number of MiB. */
    private static final long DISK_SIZE = 72L * 1024 * 1024 + 7 * 512;
    /** What QEMU's user-mode network gives the first NIC. */
    private static final String GUEST_MAC_ENCODED = "52%3A54%3A00%3A12%3A34%3A56";

    @TempDir
    Path dir;

    @Test
    void tftpScriptSanbootsDiskOverHttpAndBootSectorReadsFarSector() throws Exception {
        Path www = Files.createDirectories(dir.resolve("www"));
        BootDisk.Image disk = BootDisk.ofSize(DISK_SIZE).build(www, "disk.img");
        assertTrue(disk.farLba() * 512 >= DISK_SIZE - 1024 * 1024, "the far sector lies in the last MiB");

        try (NginxFileServer nginx = NginxFileServer.start(www, dir)) {
            String script = "#!ipxe\ndhcp\nsanboot " + nginx.guestUrl("/disk.img") + "\n";
            QemuIpxe.Result result = QemuIpxe.in(dir.resolve("qemu"))
                    .boot(QemuIpxe.Boot.tftpScript(script), disk.expectedSerialLine(), BOOT_TIMEOUT);
            report("TFTP script, virtio-net", result, nginx.requests());

            assertEquals(QemuIpxe.Outcome.EXPECTED, result.outcome(), result::toString);
            assertTrue(result.serial().contains(BootDisk.HELLO_LINE + " DL=80"), result::toString);
            List<Request> requests = nginx.requests();
            assertTrue(requests.stream().anyMatch(r -> r.range().equals(rangeOf(disk.farLba()))),
                    () -> "iPXE fetched the far sector through a Range request: " + requests);
            assertTrue(requests.stream().allMatch(r -> r.status() == 200 || r.status() == 206), requests::toString);
        }
    }

    @Test
    void httpBootfileChainsScriptWithMacThenSanboots() throws Exception {
        Path www = Files.createDirectories(dir.resolve("www"));
        BootDisk.Image disk = BootDisk.ofSize(DISK_SIZE).filler(BootDisk.Filler.ZEROS).build(www, "disk.img");

        try (NginxFileServer nginx = NginxFileServer.start(www, dir)) {
            Files.writeString(www.resolve("ipxe"), "#!ipxe\nsanboot " + nginx.guestUrl("/disk.img") + "\n");
            // iPXE expands settings in the DHCP bootfile: the control plane's /boot/v1/ipxe?mac=... works this way
            QemuIpxe.Result result = QemuIpxe.in(dir.resolve("qemu"))
                    .boot(QemuIpxe.Boot.httpBootfile(nginx.guestUrl("/ipxe?mac=${net0/mac}")),
                            disk.expectedSerialLine(), BOOT_TIMEOUT);
            report("HTTP bootfile, virtio-net", result, nginx.requests());

            assertEquals(QemuIpxe.Outcome.EXPECTED, result.outcome(), result::toString);
            List<Request> requests = nginx.requests();
            assertEquals("/ipxe?mac=" + GUEST_MAC_ENCODED, requests.get(0).uri(), requests::toString);
        }
    }

    @Test
    void e1000NicBootsToo() throws Exception {
        Path www = Files.createDirectories(dir.resolve("www"));
        BootDisk.Image disk = BootDisk.ofSize(DISK_SIZE).filler(BootDisk.Filler.ZEROS).build(www, "disk.img");

        try (NginxFileServer nginx = NginxFileServer.start(www, dir)) {
            String script = "#!ipxe\ndhcp\nsanboot " + nginx.guestUrl("/disk.img") + "\n";
            QemuIpxe.Result result = QemuIpxe.in(dir.resolve("qemu")).nic(QemuIpxe.Nic.E1000)
                    .boot(QemuIpxe.Boot.tftpScript(script), disk.expectedSerialLine(), BOOT_TIMEOUT);
            report("TFTP script, e1000", result, nginx.requests());

            assertEquals(QemuIpxe.Outcome.EXPECTED, result.outcome(), result::toString);
        }
    }

    /** The harness must see failures, not only successes: a far LBA past the end of the disk cannot be read. */
    @Test
    void readPastTheEndOfTheDiskIsReportedAsReadError() throws Exception {
        Path www = Files.createDirectories(dir.resolve("www"));
        long size = 16L * 1024 * 1024;
        BootDisk.Image disk = BootDisk.ofSize(size).filler(BootDisk.Filler.ZEROS).farLba(size / 512 + 8)
                .build(www, "disk.img");

        try (NginxFileServer nginx = NginxFileServer.start(www, dir)) {
            String script = "#!ipxe\ndhcp\nsanboot " + nginx.guestUrl("/disk.img") + "\n";
            QemuIpxe.Result result = QemuIpxe.in(dir.resolve("qemu"))
                    .boot(QemuIpxe.Boot.tftpScript(script), disk.expectedSerialLine(), BOOT_TIMEOUT);
            report("far LBA past the end", result, nginx.requests());

            assertEquals(QemuIpxe.Outcome.FAILED, result.outcome(), result::toString);
            assertTrue(result.serial().contains("SLUICE-READ-ERROR AH="), result::toString);
        }
    }

    private static String rangeOf(long lba) {
        return "bytes=" + lba * 512 + "-" + (lba * 512 + 511);
    }

    private static void report(String variant, QemuIpxe.Result result, List<Request> requests) {
        Map<String, Long> byKind = requests.stream().collect(Collectors.groupingBy(
                r -> r.method() + " " + r.status()
                        + (r.range().isEmpty() ? "" : " range " + NginxFileServer.rangeLength(r.range()) + " B"),
                TreeMap::new, Collectors.counting()));
        long connections = requests.stream().map(Request::connection).distinct().count();
        StringBuilder out = new StringBuilder();
        out.append("=== ").append(variant).append(": ").append(result.outcome()).append(" after ")
                .append(result.elapsed().toMillis()).append(" ms (QEMU start to marker or failure line, TCG)\n");
        out.append("    ").append(requests.size()).append(" HTTP requests on ").append(connections)
                .append(" connection(s): ").append(byKind).append('\n');
        requests.forEach(r -> out.append("    ").append(r).append('\n'));
        String tail = QemuIpxe.printable(result.serial()).strip();
        int from = Math.max(0, tail.length() - 400);
        out.append("    serial tail: ").append(tail.substring(from).replace("\n", "\n    | ")).append('\n');
        System.out.print(out);
    }
}

package dev.sluice.boot;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * Test fixture: network-boots a throw-away QEMU machine through iPXE and watches its serial port.
 *
 * <p>The machine: {@code qemu-system-x86_64 -machine accel=tcg} (software emulation, no KVM needed), SeaBIOS,
 * {@code -nographic -no-reboot -boot n}, COM1 to a log file, user-mode (slirp) networking with QEMU's built-in
 * DHCP and TFTP server. The NIC's option ROM is Debian's {@code ipxe-qemu} build (legacy BIOS part). From the guest,
 * {@code 10.0.2.2} is the host's loopback: a server the test binds on {@code 127.0.0.1} is reachable there.
 *
 * <p>Two ways to hand iPXE its script (both work with Debian 12's ipxe-qemu 1.0.0+git-20190125):
 * <ul>
 *   <li>{@link Boot#tftpScript}: the script is written to the TFTP directory and DHCP's bootfile names it;</li>
 *   <li>{@link Boot#httpBootfile}: DHCP's bootfile is an HTTP URL that iPXE chains; iPXE expands settings in it,
 *       so {@code http://10.0.2.2:PORT/boot/v1/ipxe?mac=${net0/mac}} arrives as
 *       {@code ?mac=52%3A54%3A00%3A12%3A34%3A56} (colons percent-encoded).</li>
 * </ul>
 *
 * <p>NIC and ROM: Debian's {@code /usr/lib/ipxe/qemu/*virtio.rom} carry PCI id 1af4:1041 (modern virtio-net), so
 * SeaBIOS only runs them for {@code virtio-net-pci,disable-legacy=on}; for QEMU's default transitional device
 * (1af4:1000) the ROM is silently skipped and nothing network-boots. {@link Nic#VIRTIO} sets that flag;
 * {@link Nic#E1000} is the fallback.
 *
 * <p>{@link #boot} waits, bounded, until the serial log holds the expected text, a known failure line, or QEMU
 * exits; QEMU is always killed before it returns or throws.
 */
public final class QemuIpxe {

    private static final Path IPXE_ROMS = Path.of("/usr/lib/ipxe/qemu");
    /** Lines after which waiting longer is pointless. */
    private static final List<String> FAILURES = List.of("SLUICE-READ-ERROR", "SLUICE-BAD-MAGIC", "SLUICE-NO-EDD",
            "No bootable device", "Could not boot");

    /** NIC model and the ipxe-qemu ROM that network-boots it under SeaBIOS. */
    public enum Nic {
        /** Modern-only virtio-net: matches the ROM's PCI id 1af4:1041. The combined legacy+EFI ROM works too. */
        VIRTIO("virtio-net-pci,disable-legacy=on", "efi-virtio.rom"),
        /** Intel 82540EM. */
        E1000("e1000", "pxe-e1000.rom");

        final String device;
        final String rom;

        Nic(String device, String rom) {
            this.device = device;
            this.rom = rom;
        }

        public Path romPath() {
            return IPXE_ROMS.resolve(rom);
        }
    }

    /** What DHCP hands to iPXE. */
    public static final class Boot {
        final String bootfile;
        final String tftpScript;

        private Boot(String bootfile, String tftpScript) {
            this.bootfile = bootfile;
            this.tftpScript = tftpScript;
        }

        /** The iPXE script (starting {@code #!ipxe}) served over QEMU's TFTP as {@code boot.ipxe}. */
        public static Boot tftpScript(String script) {
            if (!script.startsWith("#!ipxe")) {
                throw new IllegalArgumentException("an iPXE script starts with #!ipxe");
            }
            return new Boot("boot.ipxe", script);
        }

        /** An HTTP URL iPXE chains (may contain iPXE settings such as {@code ${net0/mac}}). */
        public static Boot httpBootfile(String url) {
            if (!url.startsWith("http://")) {
                throw new IllegalArgumentException("not an http URL: " + url);
            }
            if (url.contains(",")) {
                throw new IllegalArgumentException("QEMU's -netdev option syntax cannot carry a comma: " + url);
            }
            return new Boot(url, null);
        }
    }

    /** How a boot ended. */
    public enum Outcome { EXPECTED, FAILED, TIMED_OUT, QEMU_EXITED }

    /** The serial output (raw, with iPXE's escape sequences), how the wait ended and how long it took. */
    public record Result(Outcome outcome, String serial, Duration elapsed, String qemuLog) {

        /** The serial output without ANSI escape sequences, backspaces and carriage returns. */
        public String printableSerial() {
            return printable(serial);
        }

        @Override
        public String toString() {
            return outcome + " after " + elapsed.toMillis() + " ms; serial:\n" + printableSerial()
                    + (qemuLog.isBlank() ? "" : "\nqemu:\n" + qemuLog);
        }
    }

    private final Path workDir;
    private final Nic nic;
    private final int memoryMiB;
    private final String qemu;
    private final String mac;

    private QemuIpxe(Path workDir, Nic nic, int memoryMiB, String qemu, String mac) {
        this.workDir = workDir;
        this.nic = nic;
        this.memoryMiB = memoryMiB;
        this.qemu = qemu;
        this.mac = mac;
    }

    /** A machine whose files (TFTP dir, serial log, QEMU's own output) live under {@code workDir}. */
    public static QemuIpxe in(Path workDir) {
        return new QemuIpxe(workDir, Nic.VIRTIO, 256, "qemu-system-x86_64", null);
    }

    public QemuIpxe nic(Nic n) {
        return new QemuIpxe(workDir, Objects.requireNonNull(n), memoryMiB, qemu, mac);
    }

    public QemuIpxe memoryMiB(int m) {
        return new QemuIpxe(workDir, nic, m, qemu, mac);
    }

    /** The NIC's MAC address (QEMU's default is 52:54:00:12:34:56). */
    public QemuIpxe mac(String m) {
        if (!m.matches("[0-9a-f]{2}(:[0-9a-f]{2}){5}")) {
            throw new IllegalArgumentException("not a lower-case MAC: " + m);
        }
        return new QemuIpxe(workDir, nic, memoryMiB, qemu, m);
    }

    /** The QEMU command line for {@code boot}, for logs and for reproducing by hand. */
    public List<String> command(Boot boot, Path tftpDir, Path serialLog) {
        List<String> cmd = new ArrayList<>(List.of(qemu,
                "-machine", "accel=tcg",
                "-m", Integer.toString(memoryMiB),
                "-nographic",
                "-monitor", "none",
                "-no-reboot",
                "-serial", "file:" + serialLog,
                "-netdev", "user,id=n0,tftp=" + tftpDir + ",bootfile=" + boot.bootfile,
                "-device", nic.device + ",netdev=n0,romfile=" + nic.romPath() + (mac == null ? "" : ",mac=" + mac),
                "-boot", "n"));
        return cmd;
    }

    /**
     * Boots and waits up to {@code timeout} for {@code expected} on the serial port (or a failure line, or QEMU's
     * exit). QEMU is killed before this returns.
     */
    public Result boot(Boot boot, String expected, Duration timeout) throws IOException, InterruptedException {
        if (!Files.isRegularFile(nic.romPath())) {
            throw new IllegalStateException(nic.romPath() + " is missing (package ipxe-qemu; scripts/setup-debian.sh)");
        }
        Files.createDirectories(workDir);
        Path tftpDir = Files.createDirectories(workDir.resolve("tftp"));
        if (boot.tftpScript != null) {
            Files.writeString(tftpDir.resolve(boot.bootfile), boot.tftpScript, StandardCharsets.US_ASCII);
        }
        Path serialLog = workDir.resolve("serial.log");
        Path qemuLog = workDir.resolve("qemu.log");
        Files.deleteIfExists(serialLog);
        Files.writeString(serialLog, "");

        long start = System.nanoTime();
        Process process;
        try {
            process = new ProcessBuilder(command(boot, tftpDir, serialLog))
                    .directory(workDir.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                    .redirectErrorStream(true)
                    .redirectOutput(qemuLog.toFile())
                    .start();
        } catch (IOException e) {
            throw new IOException(qemu + " is not installed (package qemu-system-x86; scripts/setup-debian.sh)", e);
        }
        Thread reaper = new Thread(process::destroyForcibly, "qemu-reaper");
        Runtime.getRuntime().addShutdownHook(reaper); // a JVM killed mid-test still takes QEMU down
        Outcome outcome = Outcome.TIMED_OUT;
        try {
            long deadline = start + timeout.toNanos();
            while (System.nanoTime() < deadline) {
                String serial = read(serialLog);
                if (serial.contains(expected)) {
                    outcome = Outcome.EXPECTED;
                    break;
                }
                if (firstFailure(serial).isPresent()) {
                    Thread.sleep(300); // let the rest of the failing line (an error code) arrive
                    outcome = Outcome.FAILED;
                    break;
                }
                if (!process.isAlive()) {
                    outcome = Outcome.QEMU_EXITED;
                    break;
                }
                Thread.sleep(100);
            }
        } finally {
            stop(process);
            try {
                Runtime.getRuntime().removeShutdownHook(reaper);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs anyway
            }
        }
        Duration elapsed = Duration.ofNanos(System.nanoTime() - start);
        return new Result(outcome, read(serialLog), elapsed, read(qemuLog));
    }

    private static Optional<String> firstFailure(String serial) {
        return FAILURES.stream().filter(serial::contains).findFirst();
    }

    private static void stop(Process process) throws InterruptedException {
        if (!process.isAlive()) {
            return;
        }
        process.destroy();
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static String read(Path file) throws IOException {
        return Files.exists(file) ? new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1) : "";
    }

    private static final Pattern ANSI = Pattern.compile("\u001b(\\[[0-9;?]*[A-Za-z]|[A-Za-z])");

    /** Strips ANSI escapes, backspace spinners and CRs from console output. */
    public static String printable(String raw) {
        String s = ANSI.matcher(raw).replaceAll("");
        s = s.replaceAll(".\b", "").replace("\b", "").replace("\r", "");
        return s.replaceAll("\n{3,}", "\n\n");
    }
}

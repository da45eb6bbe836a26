package dev.sluice.agent;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Test fixture: a real Debian 12 guest (kernel, busybox initrd, ext4 root image) built from Debian packages by
 * {@code src/test/resources/guest/build-guest.sh}, without mounting, and booted by qemu (TCG) with its root disk
 * on an NBD export: hypervisor mode. The build is cached under {@code ~/.cache/sluice-guest/<hash of the script>-<MiB>}
 * (or {@code $SLUICE_GUEST_CACHE}), so only the first run pays for it (about a minute and the package downloads).
 *
 * <p>Booted with {@code sluice.nonce=N}, the guest writes {@code SLUICE-GUEST-WROTE-N …} to /root/sluice-written,
 * syncs, prints {@code SLUICE-GUEST-READY N} on its console (COM1) and powers off.
 */
final class LinuxGuest {
    static final String READY = "SLUICE-GUEST-READY ";
    static final String WROTE = "SLUICE-GUEST-WROTE-";
    /** qemu's minimal firmware for direct kernel boots (Debian's qemu-system-data ships it). */
    static final Path QBOOT = Path.of("/usr/share/qemu/qboot.rom");

    final Path kernel;
    final Path initrd;
    final Path rootfs;

    private LinuxGuest(Path dir) {
        this.kernel = dir.resolve("vmlinux");
        this.initrd = dir.resolve("initrd.img");
        this.rootfs = dir.resolve("rootfs.img");
    }

    /** The cached guest with a root image of {@code sizeMiB}, built first if needed. */
    static synchronized LinuxGuest cached(int sizeMiB) throws IOException, InterruptedException {
        byte[] script;
        try (InputStream in = LinuxGuest.class.getResourceAsStream("/guest/build-guest.sh")) {
            if (in == null) {
                throw new IllegalStateException("test resource /guest/build-guest.sh is missing");
            }
            script = in.readAllBytes();
        }
        String hash = HexFormat.of().formatHex(sha256(script)).substring(0, 16);
        Path root = Path.of(System.getenv().getOrDefault("SLUICE_GUEST_CACHE", System.getProperty("user.home") + "/.cache/sluice-guest"));
        Path dir = root.resolve(hash + "-" + sizeMiB);
        LinuxGuest guest = new LinuxGuest(dir);
        if (Files.isRegularFile(guest.rootfs) && Files.isRegularFile(guest.kernel) && Files.isRegularFile(guest.initrd)) {
            return guest;
        }
        Files.createDirectories(root);
        Path scriptFile = root.resolve("build-guest-" + hash + ".sh");
        Files.write(scriptFile, script);
        Path log = root.resolve("build-" + hash + "-" + sizeMiB + ".log");
        Process p = new ProcessBuilder("bash", scriptFile.toString(), dir.toString(), Integer.toString(sizeMiB))
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(20, TimeUnit.MINUTES)) {
            p.destroyForcibly().waitFor();
            throw new IllegalStateException("building the guest timed out; log: " + log);
        }
        if (p.exitValue() != 0) {
            throw new IllegalStateException("building the guest failed (" + p.exitValue() + "); it needs root, network access to a Debian"
                    + " mirror and the packages of scripts/setup-debian.sh:\n" + Files.readString(log));
        }
        System.out.println(Files.readString(log).strip());
        return guest;
    }

    /**
     * qemu's arguments (after the program name) for a boot with its console in the file {@code serial} and its root
     * disk at {@code disk}. Kept lean for TCG (bench/boot.sh boots the same way): the uncompressed kernel through its
     * PVH entry (no decompression), qboot instead of SeaBIOS when qemu ships it, no default devices (NIC with its
     * option ROM, VGA, IDE), {@code quiet}, {@code mitigations=off} and {@code cryptomgr.notests} (no crypto self-tests) on the guest
     * kernel's command line.
     */
    List<String> qemuArgs(String serial, String disk, String nonce) {
        List<String> args = new ArrayList<>(List.of("-machine", "accel=tcg", "-m", "512", "-nodefaults", "-nographic",
                "-monitor", "none", "-no-reboot", "-serial", "file:" + serial));
        if (Files.isRegularFile(QBOOT)) {
            args.addAll(List.of("-bios", QBOOT.toString()));
        }
        args.addAll(List.of("-kernel", kernel.toString(), "-initrd", initrd.toString(),
                "-append", "console=ttyS0 root=/dev/vda rw quiet mitigations=off cryptomgr.notests panic=-1 sluice.nonce=" + nonce,
                "-drive", "file=" + disk + ",format=raw,if=virtio"));
        return args;
    }

    /** A running qemu whose root disk is {@code nbdUri}; its console goes to {@code dir/serial.log}. */
    Vm boot(Path dir, String nbdUri, String nonce) throws IOException {
        Files.createDirectories(dir);
        Path serial = dir.resolve("serial.log");
        Files.writeString(serial, "");
        List<String> cmd = new ArrayList<>(List.of("qemu-system-x86_64"));
        cmd.addAll(qemuArgs(serial.toString(), nbdUri, nonce));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("qemu.log").toFile()).start();
        return new Vm(p, serial, dir.resolve("qemu.log"), System.nanoTime());
    }

    record Vm(Process process, Path serial, Path qemuLog, long startNanos) implements AutoCloseable {
        /** Waits for {@code text} on the console; returns the nanoseconds since start, or -1 (qemu exited or timed out). */
        long await(String text, long timeoutSeconds) throws IOException, InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
            while (System.nanoTime() < deadline) {
                if (console().contains(text)) {
                    return System.nanoTime() - startNanos;
                }
                if (!process.isAlive()) {
                    return console().contains(text) ? System.nanoTime() - startNanos : -1;
                }
                Thread.sleep(20);
            }
            return -1;
        }

        String console() throws IOException {
            return new String(Files.readAllBytes(serial), StandardCharsets.ISO_8859_1);
        }

        String describe() throws IOException {
            return "console:\n" + console() + "\nqemu:\n" + Files.readString(qemuLog);
        }

        /** Waits for the guest's power-off, then kills what is left. */
        @Override
        public void close() throws InterruptedException {
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    private static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}

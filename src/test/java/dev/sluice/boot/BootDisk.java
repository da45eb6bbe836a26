package dev.sluice.boot;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * Test fixture: a raw disk image that proves a remote boot really reads the disk through BIOS int 13h.
 *
 * <p>Sector 0 is the boot sector assembled at test time from {@code src/test/resources/boot/bootsector.S} (GNU
 * {@code as --32} and {@code ld -m elf_i386 -Ttext 0x7c00 --oformat binary}), with the 64-bit LBA of a "far" sector
 * patched in at {@link #FAR_LBA_OFFSET}. The far sector starts with {@link #MAGIC} followed by a random marker line
 * ({@code MARKER-<hex>}). Booted, the sector prints {@code SLUICE-FAR-OK MARKER-<hex>} on COM1; see
 * {@link #expectedSerialLine()}.
 *
 * <p>Between sector 0 and the far sector the image holds, per {@link Filler}, nothing (a sparse file of zeros) or
 * 1 MiB chunks of random (incompressible) data interleaved with all-zero chunks, so that a block store or transport
 * under test sees both kinds of content.
 */
public final class BootDisk {

    public static final int SECTOR_SIZE = 512;
    /** Offset in the boot sector of the little-endian 64-bit LBA of the far sector (the LBA field of its DAP). */
    public static final int FAR_LBA_OFFSET = 0x1b0;
    /** Offset of the int 13h disk address packet whose LBA field is {@link #FAR_LBA_OFFSET}. */
    public static final int DAP_OFFSET = 0x1a8;
    /** The first 16 bytes of the far sector, checked by the boot sector. */
    public static final String MAGIC = "SLUICE-FAR-SECT!";
    /** What the boot sector prints first, before touching the disk. */
    public static final String HELLO_LINE = "SLUICE-BOOT-SECTOR";
    /** What the boot sector prints before the marker once the far sector read back with the right magic. */
    public static final String OK_PREFIX = "SLUICE-FAR-OK ";
    /** Lines the boot sector prints when it fails (each then halts the machine). */
    public static final List<String> FAILURE_LINES = List.of("SLUICE-READ-ERROR", "SLUICE-BAD-MAGIC", "SLUICE-NO-EDD");

    private static final int MIB = 1 << 20;

    /** What lies between the boot sector and the far sector (and after it). */
    public enum Filler {
        /** Nothing written: a sparse file, all zeros. */
        ZEROS,
        /** 1 MiB chunks of random bytes, every fourth chunk left all-zero (a hole). */
        RANDOM_WITH_ZERO_CHUNKS
    }

    /** A built image: where it is, its size, the far sector's LBA and the marker written there. */
    public record Image(Path path, long sizeBytes, long farLba, String marker) {

        /** The line the boot sector prints on the serial port when it read the far sector correctly. */
        public String expectedSerialLine() {
            return OK_PREFIX + marker;
        }

        public long sectors() {
            return sizeBytes / SECTOR_SIZE;
        }
    }

    private final long sizeBytes;
    private final long farLba;
    private final Filler filler;
    private final long seed;

    private BootDisk(long sizeBytes, long farLba, Filler filler, long seed) {
        this.sizeBytes = sizeBytes;
        this.farLba = farLba;
        this.filler = filler;
        this.seed = seed;
    }

    /**
     * An image of {@code sizeBytes} (a multiple of 512, at least 8 MiB) whose far sector lies in its last MiB (a few
     * sectors before the end), with random-and-zero filler.
     *
     * <p>Why 8 MiB: without a partition table, iPXE (ipxe-qemu 1.0.0+git-20190125) guesses a 255-head, 63-sector
     * geometry, so a disk smaller than one such cylinder (16065 sectors, about 7.8 MiB) has zero cylinders and the
     * CHS read of its boot sector fails ("Boot from SAN device 0x80 failed: Input/output error").
     */
    public static BootDisk ofSize(long sizeBytes) {
        if (sizeBytes % SECTOR_SIZE != 0 || sizeBytes < 8L * MIB) {
            throw new IllegalArgumentException("size must be a multiple of 512 and at least 8 MiB: " + sizeBytes);
        }
        long sectors = sizeBytes / SECTOR_SIZE;
        return new BootDisk(sizeBytes, sectors - 5, Filler.RANDOM_WITH_ZERO_CHUNKS, 0x5_1C1CEL);
    }

    /**
     * The far sector's LBA. May lie outside the disk (negative tests: the read must fail), in which case no far
     * sector is written.
     */
    public BootDisk farLba(long lba) {
        if (lba < 1) {
            throw new IllegalArgumentException("the far sector must not be the boot sector: " + lba);
        }
        return new BootDisk(sizeBytes, lba, filler, seed);
    }

    public BootDisk filler(Filler f) {
        return new BootDisk(sizeBytes, farLba, f, seed);
    }

    /** Seed of the filler's random data (the marker is always fresh). */
    public BootDisk seed(long s) {
        return new BootDisk(sizeBytes, farLba, filler, s);
    }

    /** Builds the image as {@code dir/disk.img}, assembling the boot sector in {@code dir/asm/}. */
    public Image build(Path dir) throws IOException, InterruptedException {
        return build(dir, "disk.img");
    }

    public Image build(Path dir, String fileName) throws IOException, InterruptedException {
        Files.createDirectories(dir);
        byte[] boot = assembleBootSector(dir.resolve("asm"));
        ByteBuffer.wrap(boot, FAR_LBA_OFFSET, 8).order(ByteOrder.LITTLE_ENDIAN).putLong(farLba);

        byte[] markerBytes = new byte[12];
        new SecureRandom().nextBytes(markerBytes);
        String marker = "MARKER-" + HexFormat.of().formatHex(markerBytes);
        byte[] far = new byte[SECTOR_SIZE];
        byte[] farText = (MAGIC + marker + "\n").getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(farText, 0, far, 0, farText.length);

        Path path = dir.resolve(fileName);
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            if (filler == Filler.RANDOM_WITH_ZERO_CHUNKS) {
                SplittableRandom random = new SplittableRandom(seed);
                byte[] chunk = new byte[MIB];
                long chunks = (sizeBytes + MIB - 1) / MIB;
                for (long i = 0; i < chunks; i++) {
                    if (i % 4 == 3) {
                        continue; // an all-zero MiB, left as a hole
                    }
                    random.nextBytes(chunk);
                    int len = (int) Math.min(MIB, sizeBytes - i * MIB);
                    writeFully(ch, ByteBuffer.wrap(chunk, 0, len), i * MIB);
                }
            }
            writeFully(ch, ByteBuffer.wrap(boot), 0);
            if (farLba < sizeBytes / SECTOR_SIZE) {
                writeFully(ch, ByteBuffer.wrap(far), farLba * SECTOR_SIZE);
            }
            ch.truncate(sizeBytes);
            if (ch.size() < sizeBytes) {
                // extend a sparse image to its full size
                writeFully(ch, ByteBuffer.wrap(new byte[1]), sizeBytes - 1);
            }
        }
        return new Image(path, sizeBytes, farLba, marker);
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        while (buf.hasRemaining()) {
            position += ch.write(buf, position);
        }
    }

    /**
     * Assembles {@code boot/bootsector.S} (a test resource) with GNU as and ld in {@code workDir} and returns the 512
     * bytes, checked for size, boot signature and the disk address packet at {@link #DAP_OFFSET}.
     */
    public static byte[] assembleBootSector(Path workDir) throws IOException, InterruptedException {
        Files.createDirectories(workDir);
        Path source = workDir.resolve("bootsector.S");
        try (InputStream in = BootDisk.class.getResourceAsStream("/boot/bootsector.S")) {
            if (in == null) {
                throw new IllegalStateException("test resource /boot/bootsector.S is missing");
            }
            Files.copy(in, source, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        Path object = workDir.resolve("bootsector.o");
        Path binary = workDir.resolve("bootsector.bin");
        run(workDir, List.of("as", "--32", "-o", object.toString(), source.toString()));
        run(workDir, List.of("ld", "-m", "elf_i386", "-Ttext", "0x7c00", "--oformat", "binary", "-o",
                binary.toString(), object.toString()));
        byte[] sector = Files.readAllBytes(binary);
        if (sector.length != SECTOR_SIZE) {
            throw new IllegalStateException("boot sector is " + sector.length + " bytes, not 512");
        }
        if ((sector[510] & 0xff) != 0x55 || (sector[511] & 0xff) != 0xaa) {
            throw new IllegalStateException("boot sector lacks the 0x55 0xaa signature");
        }
        byte[] dapHeader = {0x10, 0, 1, 0, 0x00, 0x7e, 0, 0}; // size 16, 1 sector, buffer 0000:7e00
        if (!Arrays.equals(Arrays.copyOfRange(sector, DAP_OFFSET, DAP_OFFSET + 8), dapHeader)) {
            throw new IllegalStateException("disk address packet not at 0x" + Integer.toHexString(DAP_OFFSET)
                    + ": bootsector.S and BootDisk disagree on the layout");
        }
        return sector;
    }

    private static void run(Path dir, List<String> command) throws IOException, InterruptedException {
        Path log = dir.resolve("toolchain.log");
        Process p;
        try {
            p = new ProcessBuilder(new ArrayList<>(command)).directory(dir.toFile()).redirectErrorStream(true)
                    .redirectOutput(log.toFile()).start();
        } catch (IOException e) {
            throw new IOException(command.get(0) + " is not installed (package binutils; scripts/setup-debian.sh)", e);
        }
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new IllegalStateException(String.join(" ", command) + " timed out");
        }
        if (p.exitValue() != 0) {
            throw new IllegalStateException(String.join(" ", command) + " failed (" + p.exitValue() + "):\n"
                    + readQuietly(log));
        }
    }

    private static String readQuietly(Path log) {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

package dev.sluice.agent;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.SplittableRandom;

/**
 * A raw disk image file for the end-to-end tests: incompressible random bytes with zero regions (every
 * {@code zeroEvery}-th MiB is zero, and the second eighth of the disk is zero), so uploads exercise stored and
 * zero blocks alike. A fixed seed keeps the block store from growing across runs (content-addressed).
 */
record TestImage(Path file, long sizeBytes, String sha256) {

    static TestImage create(Path file, long sizeBytes, long seed, int zeroEvery) throws IOException {
        SplittableRandom random = new SplittableRandom(seed);
        MessageDigest sha = newSha256();
        byte[] mib = new byte[1 << 20];
        try (OutputStream out = Files.newOutputStream(file)) {
            for (long off = 0; off < sizeBytes; off += mib.length) {
                int n = (int) Math.min(mib.length, sizeBytes - off);
                long index = off >> 20;
                boolean zero = index % zeroEvery == zeroEvery - 1 || (off >= sizeBytes / 8 && off < sizeBytes / 4);
                if (zero) {
                    java.util.Arrays.fill(mib, (byte) 0);
                } else {
                    for (int i = 0; i < n; i += 8) {
                        long r = random.nextLong();
                        for (int k = 0; k < 8 && i + k < n; k++) {
                            mib[i + k] = (byte) (r >>> (8 * k));
                        }
                    }
                }
                out.write(mib, 0, n);
                sha.update(mib, 0, n);
            }
        }
        return new TestImage(file, sizeBytes, HexFormat.of().formatHex(sha.digest()));
    }

    /** The offset of the first byte where two files differ, or -1; for failure messages. */
    static long firstDifference(Path a, Path b) throws IOException {
        try (InputStream x = new java.io.BufferedInputStream(Files.newInputStream(a), 1 << 20);
             InputStream y = new java.io.BufferedInputStream(Files.newInputStream(b), 1 << 20)) {
            for (long off = 0; ; off++) {
                int p = x.read();
                int q = y.read();
                if (p != q) {
                    return off;
                }
                if (p < 0) {
                    return -1;
                }
            }
        }
    }

    static String sha256(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return sha256(in);
        }
    }

    static String sha256(InputStream in) throws IOException {
        MessageDigest sha = newSha256();
        byte[] buf = new byte[1 << 20];
        for (int n; (n = in.read(buf)) > 0; ) {
            sha.update(buf, 0, n);
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    private static MessageDigest newSha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}

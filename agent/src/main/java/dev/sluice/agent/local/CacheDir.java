package dev.sluice.agent.local;

import dev.sluice.agent.engine.Geometry;

import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

/**
 * Layout of {@code --cache-dir}: {@code disk.cache} (sparse cache file), {@code block.map} (block map),
 * {@code machine.properties} (machine id, image id and geometry, so a restart can serve present blocks
 * without the control plane) and {@code agent.status} (prefetch state, rewritten by the running agent).
 */
public record CacheDir(Path dir) {

    public record Identity(String machineId, String imageId, Geometry geometry) {
    }

    public Path cacheFile() {
        return dir.resolve("disk.cache");
    }

    public Path mapFile() {
        return dir.resolve("block.map");
    }

    public Path identityFile() {
        return dir.resolve("machine.properties");
    }

    public Path statusFile() {
        return dir.resolve("agent.status");
    }

    /** The identity saved by an earlier run, or null. */
    public Identity loadIdentity() throws IOException {
        if (!Files.exists(identityFile())) return null;
        Properties p = new Properties();
        p.load(new StringReader(Files.readString(identityFile(), StandardCharsets.UTF_8)));
        try {
            return new Identity(p.getProperty("machineId"), p.getProperty("imageId"),
                    new Geometry(Long.parseLong(p.getProperty("sizeBytes")), Integer.parseInt(p.getProperty("blockSize"))));
        } catch (RuntimeException e) {
            throw new IOException(identityFile() + " is damaged: " + e.getMessage(), e);
        }
    }

    /** Saves the identity durably (atomic replace). */
    public void saveIdentity(Identity id) throws IOException {
        Properties p = new Properties();
        p.setProperty("machineId", id.machineId());
        p.setProperty("imageId", id.imageId());
        p.setProperty("sizeBytes", Long.toString(id.geometry().sizeBytes()));
        p.setProperty("blockSize", Integer.toString(id.geometry().blockSize()));
        java.io.StringWriter text = new java.io.StringWriter();
        p.store(text, "sluice-agent: the machine's image and geometry, so a restart can serve without the control plane");
        Durable.replace(identityFile(), text.toString().getBytes(StandardCharsets.UTF_8));
    }

    /** Status for `sluice-agent status` (best effort: not fsynced, it describes a running process). */
    public void writeStatus(String text) throws IOException {
        Path tmp = dir.resolve("agent.status.tmp");
        Files.writeString(tmp, text, StandardCharsets.UTF_8);
        Files.move(tmp, statusFile(), java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    public Properties readStatus() throws IOException {
        Properties p = new Properties();
        if (Files.exists(statusFile())) p.load(new StringReader(Files.readString(statusFile(), StandardCharsets.UTF_8)));
        return p;
    }
}

package dev.sluice.agent.local;

import dev.sluice.agent.engine.MapStore;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** The block map file, written in place page by page (see BlockMap for why that is crash-safe). */
public final class FileMapStore implements MapStore, AutoCloseable {

    private final FileChannel channel;
    private final boolean readOnly;

    private FileMapStore(FileChannel channel, boolean readOnly) {
        this.channel = channel;
        this.readOnly = readOnly;
    }

    public static FileMapStore open(Path file) throws IOException {
        boolean created = !Files.exists(file);
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        if (created) Durable.syncDirectory(file.getParent());
        return new FileMapStore(ch, false);
    }

    /** For `status`: reads the map a running agent keeps; every write fails. */
    public static FileMapStore openReadOnly(Path file) throws IOException {
        return new FileMapStore(FileChannel.open(file, StandardOpenOption.READ), true);
    }

    @Override
    public ByteBuffer load() throws IOException {
        long size = channel.size();
        if (size > Integer.MAX_VALUE) throw new IOException("block map file is too large");
        ByteBuffer b = ByteBuffer.allocate((int) size);
        long pos = 0;
        while (b.hasRemaining()) {
            int n = channel.read(b, pos);
            if (n < 0) break;
            pos += n;
        }
        return b.flip();
    }

    @Override
    public void write(long position, ByteBuffer src) throws IOException {
        if (readOnly) throw new IOException("block map opened read-only");
        long pos = position;
        while (src.hasRemaining()) pos += channel.write(src, pos);
    }

    @Override
    public void sync() throws IOException {
        if (!readOnly) channel.force(false);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}

package dev.sluice.agent.local;

import dev.sluice.agent.engine.LocalStore;

import java.io.EOFException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The cache: a sparse file the size of the disk, accessed with positional FileChannel I/O (safe from
 * many threads at once). sync() is fdatasync.
 */
public final class FileLocalStore implements LocalStore, AutoCloseable {

    private final FileChannel channel;

    public FileLocalStore(Path file, long size) throws IOException {
        boolean created = !file.toFile().exists();
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            if (raf.length() != size) raf.setLength(size); // sparse: holes until blocks arrive
        }
        this.channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
        if (created) {
            channel.force(true);
            Durable.syncDirectory(file.getParent());
        }
    }

    @Override
    public void read(long position, ByteBuffer dst) throws IOException {
        long pos = position;
        while (dst.hasRemaining()) {
            int n = channel.read(dst, pos);
            if (n < 0) throw new EOFException("cache file is shorter than the disk");
            pos += n;
        }
    }

    @Override
    public void write(long position, ByteBuffer src) throws IOException {
        long pos = position;
        while (src.hasRemaining()) pos += channel.write(src, pos);
    }

    @Override
    public void sync() throws IOException {
        channel.force(false);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}

package dev.sluice.agent.nbd;

import dev.sluice.agent.engine.BlockEngine;
import dev.sluice.agent.engine.BlockMap;
import dev.sluice.agent.engine.BlockSource;
import dev.sluice.agent.engine.Clock;
import dev.sluice.agent.engine.Geometry;
import dev.sluice.agent.engine.LocalStore;
import dev.sluice.agent.engine.MapStore;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;

/** An export backed by memory (cache, map) and an in-memory repository image: NBD tests without files or HTTP. */
final class InMemoryExport {

    static final class Bytes implements LocalStore, MapStore {
        byte[] data;

        Bytes(int size) {
            data = new byte[size];
        }

        @Override
        public synchronized ByteBuffer load() {
            return ByteBuffer.wrap(data.clone());
        }

        @Override
        public synchronized void read(long position, ByteBuffer dst) {
            dst.put(data, (int) position, dst.remaining());
        }

        @Override
        public synchronized void write(long position, ByteBuffer src) {
            int end = (int) position + src.remaining();
            if (end > data.length) data = Arrays.copyOf(data, end);
            src.get(data, (int) position, src.remaining());
        }

        @Override
        public void sync() {
        }
    }

    final byte[] image;
    final Geometry geometry;
    final BlockEngine engine;
    volatile boolean repositoryDown;

    InMemoryExport(byte[] image, int blockSize) throws IOException {
        this.image = image;
        this.geometry = new Geometry(image.length, blockSize);
        BlockSource source = (start, count, deadline, sink) -> {
            for (long b = start; b < start + count; b++) {
                if (repositoryDown) throw new IOException("repository down");
                sink.accept(b, ByteBuffer.wrap(image, (int) geometry.blockOffset(b), geometry.blockLength(b)).slice());
            }
        };
        this.engine = new BlockEngine(BlockMap.open(geometry, new Bytes(0)), new Bytes(image.length), source, Clock.SYSTEM,
                new BlockEngine.Settings(4, 2_000_000_000L));
    }

    NbdSession.Export export() {
        return new NbdSession.Export("disk", "test disk", engine);
    }
}

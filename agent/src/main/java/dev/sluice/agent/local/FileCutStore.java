package dev.sluice.agent.local;

import dev.sluice.agent.engine.CutStore;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.BitSet;

/**
 * The snapshot cut in the cache dir: {@code snapshot.cut} and {@code snapshot.side}.
 * <pre>
 * snapshot.cut : "SLUICCUT" | u32 version=1 | u32 target | u64 count | u16 n | n bytes operation id (UTF-8)
 *                | count × u64 block index (ascending) | ceil(count/8) bytes: bit k set = slot k has a side copy
 * snapshot.side: slot k at offset k × blockSize (sparse)
 * </pre>
 * The cut file is created by atomic replace; afterwards only its bitmap changes, one byte in place, after the
 * side copy it announces was synced (a bit never names a copy that is not durable). Delete removes the cut
 * file first, so a leftover side file is never referenced (create truncates it).
 */
public final class FileCutStore implements CutStore {
    private static final byte[] MAGIC = "SLUICCUT".getBytes(StandardCharsets.US_ASCII);

    private final Path cutFile;
    private final Path sideFile;
    private final int blockSize;
    private FileChannel side; // open while a cut exists; guarded by this
    private FileChannel cut;
    private long bitmapOffset;
    private byte[] bitmap;

    public FileCutStore(Path dir, int blockSize) {
        this.cutFile = dir.resolve("snapshot.cut");
        this.sideFile = dir.resolve("snapshot.side");
        this.blockSize = blockSize;
    }

    @Override
    public synchronized Stored load() throws IOException {
        if (!Files.exists(cutFile)) return null;
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(cutFile));
        try {
            byte[] magic = new byte[MAGIC.length];
            b.get(magic);
            if (!java.util.Arrays.equals(magic, MAGIC) || b.getInt() != 1) throw new IOException(cutFile + " is not a version-1 snapshot cut");
            int target = b.getInt();
            long count = b.getLong();
            byte[] op = new byte[b.getShort() & 0xFFFF];
            b.get(op);
            if (count < 0 || count > Integer.MAX_VALUE) throw new IOException(cutFile + " is damaged");
            long[] blocks = new long[(int) count];
            for (int i = 0; i < count; i++) blocks[i] = b.getLong();
            bitmapOffset = b.position();
            bitmap = new byte[(int) ((count + 7) / 8)];
            b.get(bitmap);
            open();
            return new Stored(new String(op, StandardCharsets.UTF_8), target, blocks, BitSet.valueOf(bitmap));
        } catch (java.nio.BufferUnderflowException e) {
            throw new IOException(cutFile + " is truncated", e);
        }
    }

    @Override
    public synchronized void create(String operationId, int target, long[] blocks) throws IOException {
        close();
        // Emptied, not synced: until a slot's bit is set (after its copy was synced) nothing reads this file, so
        // whatever a crash leaves in it is never referenced.
        try (FileChannel s = FileChannel.open(sideFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            // truncated by opening
        }
        byte[] op = operationId.getBytes(StandardCharsets.UTF_8);
        bitmap = new byte[(blocks.length + 7) / 8];
        ByteBuffer b = ByteBuffer.allocate(MAGIC.length + 4 + 4 + 8 + 2 + op.length + blocks.length * 8 + bitmap.length);
        b.put(MAGIC).putInt(1).putInt(target).putLong(blocks.length).putShort((short) op.length).put(op);
        for (long block : blocks) b.putLong(block);
        bitmapOffset = b.position();
        b.put(bitmap);
        Durable.replace(cutFile, b.array());
        open();
    }

    @Override
    public synchronized void saveCopy(int slot, ByteBuffer data) throws IOException {
        long at = (long) slot * blockSize;
        while (data.hasRemaining()) at += side.write(data, at);
        side.force(false);
        bitmap[slot >>> 3] |= (byte) (1 << (slot & 7));
        ByteBuffer one = ByteBuffer.wrap(bitmap, slot >>> 3, 1);
        while (one.hasRemaining()) cut.write(one, bitmapOffset + (slot >>> 3));
        cut.force(false);
    }

    @Override
    public synchronized void readCopy(int slot, ByteBuffer dst) throws IOException {
        long at = (long) slot * blockSize;
        while (dst.hasRemaining()) {
            int n = side.read(dst, at);
            if (n < 0) throw new IOException("snapshot side copy of slot " + slot + " is truncated");
            at += n;
        }
    }

    @Override
    public synchronized void delete() throws IOException {
        close();
        Files.deleteIfExists(cutFile);
        Durable.syncDirectory(cutFile.getParent());
        Files.deleteIfExists(sideFile);
    }

    private void open() throws IOException {
        side = FileChannel.open(sideFile, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        cut = FileChannel.open(cutFile, StandardOpenOption.READ, StandardOpenOption.WRITE);
    }

    private void close() throws IOException {
        if (side != null) side.close();
        if (cut != null) cut.close();
        side = null;
        cut = null;
    }
}

package dev.sluice.blockstore;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * The default {@link BlockStore}: one file per block under a data directory.
 *
 * <h2>Layout</h2>
 * <pre>
 *   &lt;dir&gt;/&lt;tenantId&gt;/ab/cd/abcd…(64 hex digits)     a block
 *   &lt;dir&gt;/&lt;tenantId&gt;/ab/cd/.abcd….&lt;uuid&gt;.tmp       a write in progress (or left by a crash)
 *   &lt;dir&gt;/.quarantine/&lt;tenantId&gt;/abcd….&lt;millis&gt;   a block found corrupt
 * </pre>
 * Two levels of 256 shard directories keep directories small: a tenant with 100 million 64 KiB blocks (6 TiB) has
 * about 1,500 files per leaf directory. Tenant ids never start with a dot, so {@code .quarantine} cannot collide.
 *
 * <h2>Durability</h2>
 * A block is written to a temporary file in its final directory, fsynced, renamed onto its final name (atomic on
 * POSIX file systems), and the directory is fsynced; shard directories created on the way are fsynced into their
 * parents. So a block file either is absent or has its complete contents, also after a crash at any instant; a
 * crash can only leave a {@code .tmp} file behind, which is never listed or read. Two concurrent puts of the same
 * block each write their own temporary file and both renames install identical bytes.
 *
 * <p>An idempotent put of a block that is already present only checks that the file exists (one {@code stat}).
 *
 * <p>Thread-safe; every method blocks on disk I/O.
 */
public final class FileBlockStore extends VerifyingBlockStore {

    private static final String QUARANTINE = ".quarantine";
    private static final boolean WINDOWS = System.getProperty("os.name", "").toLowerCase().startsWith("windows");

    private final Path root;

    /**
     * A store under {@code root}, which is created if missing.
     *
     * @throws BlockStoreException if the directory cannot be created
     */
    public FileBlockStore(Path root, CorruptBlockLog corruptBlocks) {
        super("file", corruptBlocks);
        this.root = Objects.requireNonNull(root, "root").toAbsolutePath().normalize();
        try {
            Files.createDirectories(this.root);
        } catch (IOException e) {
            throw new BlockStoreException("cannot create block directory " + this.root, e);
        }
    }

    /** The store's root directory. */
    public Path root() {
        return root;
    }

    /** Where the block's file is (whether or not it exists). Package-private for tests. */
    Path pathOf(String tenantId, BlockDigest digest) {
        String hex = digest.hex();
        return root.resolve(tenantId).resolve(hex.substring(0, 2)).resolve(hex.substring(2, 4)).resolve(hex);
    }

    @Override
    boolean contains(String tenantId, BlockDigest digest) {
        return Files.isRegularFile(pathOf(tenantId, digest));
    }

    @Override
    void store(String tenantId, BlockDigest digest, byte[] verifiedBytes) {
        Path target = pathOf(tenantId, digest);
        Path dir = target.getParent();
        try {
            createDirectoriesDurably(dir);
            Path tmp = dir.resolve("." + digest.hex() + "." + UUID.randomUUID() + ".tmp");
            try {
                try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                    ByteBuffer buf = ByteBuffer.wrap(verifiedBytes);
                    while (buf.hasRemaining()) {
                        ch.write(buf);
                    }
                    ch.force(true);
                }
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(tmp);
            }
            fsyncDirectory(dir);
        } catch (AtomicMoveNotSupportedException e) {
            throw new BlockStoreException("the file system of " + root + " cannot rename atomically", e);
        } catch (IOException e) {
            throw new BlockStoreException("cannot store block " + digest + " under " + dir, e);
        }
    }

    /**
     * A batch whose blocks share their directory syncs: each block is verified, written to its temporary file and
     * fsynced as it is added (on {@code io}, so those syncs overlap the arrival of the rest of the batch);
     * {@link BlockBatch#commit} then renames each onto its final name and fsyncs each directory that gained a block,
     * in parallel, so the file system can commit them together. The crash guarantees are those of {@link #store}: a
     * block file is absent or complete, durable once commit returns. Per block that is the same syncs as a put, but
     * the directory syncs are issued together at the end rather than one per block (measured with bench/snapshot.sh:
     * syncing the data at commit too, after the last block arrived, left the whole batch waiting for it).
     */
    @Override
    public BlockBatch batch(String tenantId, java.util.concurrent.Executor io, int inFlight) {
        BlockStore.requireTenantId(tenantId);
        return new SyncedBatch(tenantId, io, inFlight);
    }

    private final class SyncedBatch implements BlockBatch {
        /** A block written to {@code tmp} (not yet synced), or already present ({@code tmp} null). */
        private record Staged(Path target, Path tmp) {
        }

        private final String tenantId;
        private final java.util.concurrent.Executor io;
        private final int inFlight;
        private final List<java.util.concurrent.CompletableFuture<Staged>> staged = new ArrayList<>();
        private int waited;

        SyncedBatch(String tenantId, java.util.concurrent.Executor io, int inFlight) {
            this.tenantId = tenantId;
            this.io = io;
            this.inFlight = inFlight;
        }

        @Override
        public void add(BlockDigest digest, byte[] content) {
            Objects.requireNonNull(digest, "digest");
            if (content.length > MAX_BLOCK_SIZE) {
                throw new IllegalArgumentException("block of " + content.length + " bytes exceeds the maximum of " + MAX_BLOCK_SIZE);
            }
            while (staged.size() - waited >= inFlight) {
                join(staged.get(waited++));
            }
            staged.add(java.util.concurrent.CompletableFuture.supplyAsync(() -> stage(digest, content), io));
        }

        private Staged stage(BlockDigest digest, byte[] content) {
            BlockDigest actual = BlockDigest.of(content);
            if (!actual.equals(digest)) {
                throw new DigestMismatchException(digest, actual);
            }
            Path target = pathOf(tenantId, digest);
            if (Files.isRegularFile(target)) {
                return new Staged(target, null);
            }
            Path dir = target.getParent();
            Path tmp = dir.resolve("." + digest.hex() + "." + UUID.randomUUID() + ".tmp");
            try {
                createDirectoriesDurably(dir);
                try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                    ByteBuffer buf = ByteBuffer.wrap(content);
                    while (buf.hasRemaining()) {
                        ch.write(buf);
                    }
                    // synced here, on the pool, while the next blocks of the batch still arrive: the batch's
                    // commit is then left with the renames and the directory syncs
                    ch.force(true);
                }
                return new Staged(target, tmp);
            } catch (IOException e) {
                deleteQuietly(tmp);
                throw new BlockStoreException("cannot store block " + digest + " under " + dir, e);
            }
        }

        @Override
        public boolean[] commit() {
            List<Staged> written = new ArrayList<>(staged.size());
            int renamed = 0; // written[0, renamed) are in place (or were present)
            RuntimeException failure = null;
            for (var f : staged) {
                try {
                    written.add(join(f));
                } catch (RuntimeException e) {
                    if (failure == null) {
                        failure = e;
                    }
                }
            }
            try {
                if (failure != null) {
                    throw failure;
                }
                // 1. every new block's bytes are durable in its temporary file (synced when staged); 2. each renamed onto its final name (atomic: the name holds nothing or the complete block)
                java.util.Set<Path> dirs = new java.util.LinkedHashSet<>();
                for (int i = 0; i < written.size(); i++) {
                    Staged w = written.get(i);
                    if (w.tmp() != null) {
                        try {
                            Files.move(w.tmp(), w.target(), StandardCopyOption.ATOMIC_MOVE);
                            renamed = i + 1;
                        } catch (AtomicMoveNotSupportedException e) {
                            throw new BlockStoreException("the file system of " + root + " cannot rename atomically", e);
                        } catch (IOException e) {
                            throw new BlockStoreException("cannot store block " + w.target().getFileName(), e);
                        }
                        dirs.add(w.target().getParent());
                    }
                }
                // 3. the renames durable: each directory once
                all(dirs.stream().map(d -> (IORun) () -> fsyncDirectory(d)).toList());
            } finally {
                for (int i = renamed; i < written.size(); i++) {
                    if (written.get(i).tmp() != null) {
                        deleteQuietly(written.get(i).tmp()); // the batch failed before this block's rename
                    }
                }
            }
            boolean[] fresh = new boolean[written.size()];
            for (int i = 0; i < fresh.length; i++) {
                fresh[i] = written.get(i).tmp() != null;
            }
            return fresh;
        }

        @Override
        public void abandon() {
            staged.forEach(f -> f.thenAccept(w -> {
                if (w.tmp() != null) {
                    deleteQuietly(w.tmp());
                }
            }));
        }

        private void all(List<IORun> steps) {
            List<java.util.concurrent.CompletableFuture<Void>> running = new ArrayList<>(steps.size());
            for (IORun step : steps) {
                running.add(java.util.concurrent.CompletableFuture.runAsync(() -> {
                    try {
                        step.run();
                    } catch (IOException e) {
                        throw new BlockStoreException("cannot sync blocks under " + root, e);
                    }
                }, io));
            }
            RuntimeException failure = null;
            for (var f : running) {
                try {
                    f.get();
                } catch (java.util.concurrent.ExecutionException | InterruptedException e) {
                    if (failure == null) {
                        failure = BlockBatch.unwrap(e);
                    }
                }
            }
            if (failure != null) {
                throw failure;
            }
        }

        private Staged join(java.util.concurrent.CompletableFuture<Staged> f) {
            try {
                return f.get();
            } catch (java.util.concurrent.ExecutionException | InterruptedException e) {
                throw BlockBatch.unwrap(e);
            }
        }
    }

    private interface IORun {
        void run() throws IOException;
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // a leftover .tmp is never listed or read
        }
    }

    @Override
    Optional<byte[]> load(String tenantId, BlockDigest digest) {
        Path path = pathOf(tenantId, digest);
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size > MAX_BLOCK_SIZE) {
                throw new OversizedBlockException(size);
            }
            ByteBuffer buf = ByteBuffer.allocate((int) size);
            while (buf.hasRemaining()) {
                if (ch.read(buf) < 0) {
                    break; // shrank while we read: the digest check will catch it
                }
            }
            byte[] bytes = buf.array();
            return Optional.of(buf.hasRemaining() ? Arrays.copyOf(bytes, buf.position()) : bytes);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new BlockStoreException("cannot read block " + digest, e);
        }
    }

    @Override
    void remove(String tenantId, BlockDigest digest) {
        Path path = pathOf(tenantId, digest);
        try {
            if (Files.deleteIfExists(path)) {
                fsyncDirectory(path.getParent());
            }
        } catch (IOException e) {
            throw new BlockStoreException("cannot delete block " + digest, e);
        }
    }

    @Override
    void quarantine(String tenantId, BlockDigest digest) {
        Path path = pathOf(tenantId, digest);
        Path dir = root.resolve(QUARANTINE).resolve(tenantId);
        try {
            createDirectoriesDurably(dir);
            Path dest = dir.resolve(digest.hex() + "." + System.currentTimeMillis());
            for (int i = 1; Files.exists(dest); i++) {
                dest = dir.resolve(digest.hex() + "." + System.currentTimeMillis() + "-" + i);
            }
            Files.move(path, dest, StandardCopyOption.ATOMIC_MOVE);
            fsyncDirectory(path.getParent());
            fsyncDirectory(dir);
        } catch (NoSuchFileException e) {
            // Already gone (deleted or quarantined by a concurrent get): nothing to do.
        } catch (IOException e) {
            throw new BlockStoreException("cannot quarantine block " + digest, e);
        }
    }

    @Override
    Stream<StoredBlock> list(String tenantId) {
        Path tenantDir = root.resolve(tenantId);
        if (!Files.isDirectory(tenantDir)) {
            return Stream.empty();
        }
        Stream<Path> walk;
        try {
            walk = Files.walk(tenantDir, 3);
        } catch (NoSuchFileException e) {
            return Stream.empty();
        } catch (IOException e) {
            throw new BlockStoreException("cannot list blocks of tenant " + tenantId, e);
        }
        return walk.filter(p -> tenantDir.relativize(p).getNameCount() == 3)
                .map(p -> toStoredBlock(tenantId, p))
                .flatMap(Optional::stream);
    }

    /** A listed path as a block, if it is a complete block file in its right place. */
    private Optional<StoredBlock> toStoredBlock(String tenantId, Path p) {
        String name = p.getFileName().toString();
        if (name.length() != 2 * BlockDigest.LENGTH || name.startsWith(".")) {
            return Optional.empty();
        }
        BlockDigest digest;
        try {
            digest = BlockDigest.fromHex(name);
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
        if (!name.equals(digest.hex()) || !pathOf(tenantId, digest).equals(p)) {
            return Optional.empty();
        }
        try {
            BasicFileAttributes attrs = Files.readAttributes(p, BasicFileAttributes.class);
            if (!attrs.isRegularFile()) {
                return Optional.empty();
            }
            return Optional.of(new StoredBlock(digest, attrs.size(), attrs.lastModifiedTime().toInstant()));
        } catch (NoSuchFileException e) {
            return Optional.empty(); // deleted while we listed
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Creates {@code dir} and its missing parents below {@link #root}, fsyncing each parent that gained an entry,
     * so that a block renamed into {@code dir} is reachable after a crash.
     */
    private void createDirectoriesDurably(Path dir) throws IOException {
        if (Files.isDirectory(dir)) {
            return;
        }
        List<Path> missing = new ArrayList<>();
        for (Path p = dir; p != null && !p.equals(root) && !Files.isDirectory(p); p = p.getParent()) {
            missing.add(0, p);
        }
        for (Path p : missing) {
            try {
                Files.createDirectory(p);
            } catch (FileAlreadyExistsException e) {
                if (!Files.isDirectory(p)) {
                    throw e;
                }
                // created concurrently by another put: its creator fsyncs the parent, and so do we below
            }
            fsyncDirectory(p.getParent());
        }
    }

    /** Makes the directory's entries (creations, renames, deletions) durable. */
    private static void fsyncDirectory(Path dir) throws IOException {
        if (WINDOWS) {
            return; // NTFS cannot open a directory as a channel; its metadata journaling covers renames
        }
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }
}

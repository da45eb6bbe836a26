package dev.sluice.agent.nbd;

import dev.sluice.agent.engine.BlockEngine;
import dev.sluice.agent.engine.BlockMap;
import dev.sluice.agent.engine.FetchFailedException;
import dev.sluice.agent.engine.Geometry;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static dev.sluice.agent.nbd.Protocol.*;

/**
 * One NBD connection: fixed-newstyle handshake, then transmission. The calling thread reads requests
 * (and WRITE payloads) in order; each request then runs on the shared executor and writes its reply
 * under {@code replyLock}, so replies may come out of order but never interleave. One exception: a READ
 * of blocks all present (it cannot wait on the repository) while no other request of this connection is
 * in flight runs on the calling thread itself. A client waiting for each reply (QD1: a booting guest, a
 * database's random reads) then costs one thread wake-up per request, not two, and no reply races the
 * previous request's worker for the lock; on a host whose CPUs are busy (prefetch, other guests) every
 * wake-up can wait for a CPU, and that wait was the tail of such reads (bench/agent.sh row 4). At
 * QD > 1 requests overlap, so they still go to the workers and run in parallel. At most
 * {@link #SLOTS} requests are in flight per connection; each slot owns a direct buffer that grows to
 * the largest request it served (at most {@link #MAX_REQUEST} plus headers), so memory per connection
 * is bounded and steady-state requests allocate nothing.
 */
public final class NbdSession implements Runnable {

    /** Longest READ/WRITE/CACHE we serve; longer is EINVAL (our INFO_BLOCK_SIZE maximum). */
    public static final int MAX_REQUEST = 32 << 20;
    static final int MAX_OPTION_LENGTH = 64 << 10;
    static final int SLOTS = 8;
    /** Largest READ served on the connection's own thread (a copy from the page cache: tens of microseconds). */
    static final int INLINE_READ_MAX = 1 << 20;
    /** How long an idle connection polls for the next request before it blocks (see readRequestHeader). */
    static final long SPIN_NANOS = 50_000;
    /** Poll only when the previous request followed its predecessor's reply this quickly (wake-up included). */
    static final long SPIN_WHEN_GAP_BELOW_NANOS = 60_000;
    private static final int PREFIX = NbdCodec.STRUCTURED_HEADER_BYTES + 8; // room for any reply header
    private static final int CONTEXT_BASE_ALLOCATION = 1;
    private static final int CONTEXT_SLUICE_BLOCKS = 2;
    private static final int MAX_DESCRIPTORS = 65536;
    private static final ByteBuffer ZEROES = ByteBuffer.allocateDirect(1 << 20).asReadOnlyBuffer();

    /** What this server exports: one disk under one name (the empty name is accepted as the default). */
    public record Export(String name, String description, BlockEngine engine) {
    }

    private final ByteChannel channel;
    private final Export export;
    private final Executor executor;
    private final Consumer<String> log;
    private final Object replyLock = new Object();
    private final BlockingQueue<Slot> freeSlots = new ArrayBlockingQueue<>(SLOTS);
    private final ByteBuffer header = ByteBuffer.allocateDirect(NbdCodec.REQUEST_BYTES);
    private boolean structured;
    private final List<Integer> contexts = new ArrayList<>();
    private int transmissionFlags;
    private volatile boolean broken;
    /** How long the connection's thread last waited for a request header (transmission thread only). */
    private long lastGapNanos = Long.MAX_VALUE;

    private static final class Slot {
        ByteBuffer buffer = ByteBuffer.allocateDirect(PREFIX + 256 * 1024);

        ByteBuffer ensure(int bytes) {
            if (buffer.capacity() < PREFIX + bytes) buffer = ByteBuffer.allocateDirect(PREFIX + bytes);
            return buffer;
        }
    }

    private final ScheduledExecutorService timers;
    private final long handshakeTimeoutMillis;

    /**
     * @param timers closes the connection when the handshake is not done within {@code handshakeTimeoutMillis}
     *               (a client that connects and says nothing must not hold a thread forever)
     */
    public NbdSession(ByteChannel channel, Export export, Executor executor, ScheduledExecutorService timers,
                      long handshakeTimeoutMillis, Consumer<String> log) {
        this.timers = timers;
        this.handshakeTimeoutMillis = handshakeTimeoutMillis;
        this.channel = channel;
        this.export = export;
        this.executor = executor;
        this.log = log;
        for (int i = 0; i < SLOTS; i++) freeSlots.add(new Slot());
    }

    @Override
    public void run() {
        try {
            ScheduledFuture<?> timeout = timers.schedule(() -> {
                log.accept("nbd: handshake not finished in " + handshakeTimeoutMillis + " ms; disconnecting");
                close();
            }, handshakeTimeoutMillis, TimeUnit.MILLISECONDS);
            boolean go;
            try {
                go = handshake();
            } finally {
                timeout.cancel(false);
            }
            if (go && !broken) {
                // A client that reached transmission is a guest using the disk: the prefetcher's boot hold
                // applies only while one is attached.
                export.engine().guestAttached();
                try {
                    transmission();
                } finally {
                    export.engine().guestDetached();
                }
            }
        } catch (EOFException e) {
            // client went away
        } catch (NbdCodec.MalformedException e) {
            log.accept("nbd: disconnecting client: " + e.getMessage());
        } catch (IOException e) {
            if (!broken) log.accept("nbd: connection ended: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            close();
        }
    }

    public void close() {
        broken = true;
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    // ---------------- handshake ----------------

    /** Returns true when transmission should start, false after a soft disconnect (NBD_OPT_ABORT). */
    private boolean handshake() throws IOException, NbdCodec.MalformedException {
        writeFully(NbdCodec.greeting());
        int clientFlags = readBuffer(4).getInt();
        if ((clientFlags & ~(FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES)) != 0) {
            throw new NbdCodec.MalformedException("unknown client flags " + Integer.toHexString(clientFlags));
        }
        boolean noZeroes = (clientFlags & FLAG_C_NO_ZEROES) != 0;
        while (true) {
            ByteBuffer h = readBuffer(16);
            if (h.getLong() != IHAVEOPT) throw new NbdCodec.MalformedException("bad option magic");
            int option = h.getInt();
            long length = Integer.toUnsignedLong(h.getInt());
            if (length > MAX_OPTION_LENGTH) throw new NbdCodec.MalformedException("option length " + length + " is too long");
            ByteBuffer payload = readBuffer((int) length);
            switch (option) {
                case OPT_EXPORT_NAME -> {
                    String name = utf8(payload);
                    if (!exportMatches(name)) throw new NbdCodec.MalformedException("unknown export '" + name + "'");
                    transmissionFlags = transmissionFlags();
                    writeFully(NbdCodec.exportNameReply(size(), transmissionFlags, noZeroes));
                    return true;
                }
                case OPT_ABORT -> {
                    writeFully(NbdCodec.optionReply(option, REP_ACK, null));
                    return false;
                }
                case OPT_LIST -> {
                    if (length != 0) {
                        writeFully(NbdCodec.optionError(option, REP_ERR_INVALID, "NBD_OPT_LIST takes no data"));
                    } else {
                        writeFully(NbdCodec.optionReply(option, REP_SERVER, NbdCodec.serverEntry(export.name())));
                        writeFully(NbdCodec.optionReply(option, REP_ACK, null));
                    }
                }
                case OPT_STRUCTURED_REPLY -> {
                    if (length != 0) {
                        writeFully(NbdCodec.optionError(option, REP_ERR_INVALID, "NBD_OPT_STRUCTURED_REPLY takes no data"));
                    } else {
                        structured = true;
                        writeFully(NbdCodec.optionReply(option, REP_ACK, null));
                    }
                }
                case OPT_INFO, OPT_GO -> {
                    if (infoOrGo(option, payload)) return true;
                }
                case OPT_LIST_META_CONTEXT, OPT_SET_META_CONTEXT -> metaContext(option, payload);
                case OPT_STARTTLS -> writeFully(NbdCodec.optionError(option, REP_ERR_POLICY, "TLS is not offered on this socket"));
                default -> writeFully(NbdCodec.optionError(option, REP_ERR_UNSUP, "option " + option + " is not supported"));
            }
        }
    }

    private boolean infoOrGo(int option, ByteBuffer payload) throws IOException {
        NbdCodec.InfoRequest req;
        try {
            req = NbdCodec.decodeInfoRequest(payload);
        } catch (NbdCodec.MalformedException e) {
            writeFully(NbdCodec.optionError(option, REP_ERR_INVALID, e.getMessage()));
            return false;
        }
        if (!exportMatches(req.exportName())) {
            writeFully(NbdCodec.optionError(option, REP_ERR_UNKNOWN, "no export named '" + req.exportName() + "'"));
            return false;
        }
        int flags = transmissionFlags();
        writeFully(NbdCodec.optionReply(option, REP_INFO, NbdCodec.infoExport(size(), flags)));
        if (req.infoTypes().contains(INFO_NAME)) {
            writeFully(NbdCodec.optionReply(option, REP_INFO, NbdCodec.infoString(INFO_NAME, export.name())));
        }
        if (req.infoTypes().contains(INFO_DESCRIPTION)) {
            writeFully(NbdCodec.optionReply(option, REP_INFO, NbdCodec.infoString(INFO_DESCRIPTION, export.description())));
        }
        int preferred = Math.min(export.engine().geometry().blockSize(), MAX_REQUEST);
        writeFully(NbdCodec.optionReply(option, REP_INFO, NbdCodec.infoBlockSize(1, Math.max(preferred, 512), MAX_REQUEST)));
        writeFully(NbdCodec.optionReply(option, REP_ACK, null));
        if (option == OPT_GO) {
            transmissionFlags = flags;
            return true;
        }
        return false;
    }

    private void metaContext(int option, ByteBuffer payload) throws IOException {
        if (!structured) {
            writeFully(NbdCodec.optionError(option, REP_ERR_INVALID, "negotiate structured replies first"));
            return;
        }
        NbdCodec.MetaContextRequest req;
        try {
            req = NbdCodec.decodeMetaContextRequest(payload);
        } catch (NbdCodec.MalformedException e) {
            writeFully(NbdCodec.optionError(option, REP_ERR_INVALID, e.getMessage()));
            return;
        }
        if (!exportMatches(req.exportName())) {
            writeFully(NbdCodec.optionError(option, REP_ERR_UNKNOWN, "no export named '" + req.exportName() + "'"));
            return;
        }
        Map<Integer, String> matched = new LinkedHashMap<>();
        List<String> queries = req.queries();
        if (queries.isEmpty() && option == OPT_LIST_META_CONTEXT) queries = List.of("base:", "sluice:");
        for (String q : queries) {
            if (q.equals(BASE_ALLOCATION) || q.equals("base:")) matched.put(CONTEXT_BASE_ALLOCATION, BASE_ALLOCATION);
            if (q.equals(SLUICE_BLOCKS) || q.equals("sluice:")) matched.put(CONTEXT_SLUICE_BLOCKS, SLUICE_BLOCKS);
        }
        for (Map.Entry<Integer, String> m : matched.entrySet()) {
            int id = option == OPT_LIST_META_CONTEXT ? 0 : m.getKey();
            writeFully(NbdCodec.optionReply(option, REP_META_CONTEXT, NbdCodec.metaContext(id, m.getValue())));
        }
        if (option == OPT_SET_META_CONTEXT) {
            contexts.clear();
            contexts.addAll(matched.keySet());
        }
        writeFully(NbdCodec.optionReply(option, REP_ACK, null));
    }

    private boolean exportMatches(String name) {
        return name.isEmpty() || name.equals(export.name());
    }

    private int transmissionFlags() {
        // CAN_MULTI_CONN is correct: every connection shares one engine, and FLUSH syncs the whole cache and map.
        int flags = FLAG_HAS_FLAGS | FLAG_SEND_FLUSH | FLAG_SEND_FUA | FLAG_SEND_TRIM | FLAG_SEND_WRITE_ZEROES
                | FLAG_CAN_MULTI_CONN | FLAG_SEND_CACHE;
        if (structured) flags |= FLAG_SEND_DF;
        return flags;
    }

    private long size() {
        return export.engine().geometry().sizeBytes();
    }

    // ---------------- transmission ----------------

    private void transmission() throws IOException, InterruptedException, NbdCodec.MalformedException {
        while (!broken) {
            readRequestHeader();
            header.flip();
            NbdCodec.Request req = NbdCodec.decodeRequest(header);
            if (req.type() == CMD_DISC) {
                for (int i = 0; i < SLOTS; i++) freeSlots.take(); // let in-flight requests finish
                return;
            }
            Slot slot = freeSlots.take();
            if (req.type() == CMD_WRITE) {
                if (req.length() > MAX_REQUEST) {
                    // We cannot skip an arbitrary payload cheaply: answer and hang up.
                    reply(slot, req, EINVAL, "write longer than " + MAX_REQUEST + " bytes");
                    throw new NbdCodec.MalformedException("write of " + req.length() + " bytes exceeds the limit");
                }
                ByteBuffer buf = slot.ensure((int) req.length());
                buf.clear().position(PREFIX).limit(PREFIX + (int) req.length());
                readFully(buf);
            }
            if (servesInline(req)) {
                serve(slot, req);
                continue;
            }
            try {
                executor.execute(() -> serve(slot, req));
            } catch (RejectedExecutionException e) {
                reply(slot, req, ESHUTDOWN, "server is shutting down");
                return;
            }
        }
    }

    /**
     * A READ that only copies present blocks, with no other request of this connection in flight (the slot
     * just taken is the only one out), at most {@link #INLINE_READ_MAX} bytes: served on the reading thread.
     */
    private boolean servesInline(NbdCodec.Request req) {
        return req.type() == CMD_READ && freeSlots.size() == SLOTS - 1 && req.length() > 0 && req.length() <= INLINE_READ_MAX
                && inRange(req) && export.engine().allPresent(req.offset(), req.length());
    }

    /** Runs one request (on a worker, or inline: see {@link #servesInline}) and sends its reply; always returns the slot. */
    private void serve(Slot slot, NbdCodec.Request req) {
        try {
            switch (req.type()) {
                case CMD_READ -> read(slot, req);
                case CMD_WRITE -> write(slot, req);
                case CMD_FLUSH -> flush(slot, req);
                case CMD_TRIM -> ranged(slot, req, CMD_FLAG_FUA, EINVAL, () -> {
                    // A hint we may ignore: the data stays, and so does its dirty state.
                    if ((req.flags() & CMD_FLAG_FUA) != 0) export.engine().flush();
                });
                case CMD_WRITE_ZEROES -> ranged(slot, req, CMD_FLAG_FUA | CMD_FLAG_NO_HOLE, ENOSPC, () -> writeZeroes(req));
                case CMD_CACHE -> ranged(slot, req, 0, EINVAL, () -> cache(req));
                case CMD_BLOCK_STATUS -> blockStatus(slot, req);
                default -> reply(slot, req, EINVAL, "unknown command " + req.type());
            }
        } catch (IOException e) {
            close();
        } catch (RuntimeException e) {
            log.accept("nbd: request failed: " + e);
            try {
                reply(slot, req, EIO, "internal error");
            } catch (IOException ignored) {
                close();
            }
        } finally {
            freeSlots.add(slot);
        }
    }

    private interface Action {
        void run() throws IOException;
    }

    private void flush(Slot slot, NbdCodec.Request req) throws IOException {
        if ((req.flags() & ~CMD_FLAG_FUA) != 0) {
            reply(slot, req, EINVAL, "unexpected command flags");
            return;
        }
        reply(slot, req, run(() -> export.engine().flush()), "flush failed");
    }

    /** Commands on a byte range: flags check, range check (error {@code rangeError}), then the action. */
    private void ranged(Slot slot, NbdCodec.Request req, int allowedFlags, int rangeError, Action action) throws IOException {
        if ((req.flags() & ~(allowedFlags | CMD_FLAG_FUA)) != 0) {
            reply(slot, req, EINVAL, "unexpected command flags");
            return;
        }
        if (!inRange(req)) {
            reply(slot, req, rangeError, "range beyond the end of the disk");
            return;
        }
        reply(slot, req, req.length() == 0 ? 0 : run(action), null);
    }

    private int run(Action action) {
        try {
            action.run();
            return 0;
        } catch (FetchFailedException e) {
            log.accept("nbd: " + e.getMessage());
            return EIO;
        } catch (IOException e) {
            log.accept("nbd: I/O error: " + e.getMessage());
            return EIO;
        }
    }

    private boolean inRange(NbdCodec.Request req) {
        long size = size();
        return req.offset() >= 0 && req.offset() <= size && req.length() <= size - req.offset();
    }

    private void read(Slot slot, NbdCodec.Request req) throws IOException {
        if ((req.flags() & ~(CMD_FLAG_FUA | CMD_FLAG_DF)) != 0) {
            reply(slot, req, EINVAL, "unexpected command flags");
            return;
        }
        if (req.length() > MAX_REQUEST) {
            reply(slot, req, (req.flags() & CMD_FLAG_DF) != 0 ? EOVERFLOW : EINVAL, "read longer than " + MAX_REQUEST + " bytes");
            return;
        }
        if (!inRange(req)) {
            reply(slot, req, EINVAL, "read beyond the end of the disk");
            return;
        }
        int len = (int) req.length();
        if (len == 0) {
            reply(slot, req, 0, null);
            return;
        }
        ByteBuffer buf = slot.ensure(len);
        buf.clear().position(PREFIX).limit(PREFIX + len);
        int error = run(() -> export.engine().read(req.offset(), buf));
        if (error != 0) {
            reply(slot, req, error, "could not read the block from the repository");
            return;
        }
        if (structured) {
            buf.limit(PREFIX + len).position(0);
            NbdCodec.putStructuredHeader(buf, REPLY_FLAG_DONE, REPLY_TYPE_OFFSET_DATA, req.handle(), 8 + len);
            buf.putLong(req.offset());
            buf.position(0);
        } else {
            buf.limit(PREFIX + len).position(PREFIX - NbdCodec.SIMPLE_REPLY_BYTES);
            NbdCodec.putSimpleReply(buf, 0, req.handle());
            buf.position(PREFIX - NbdCodec.SIMPLE_REPLY_BYTES);
        }
        synchronized (replyLock) {
            writeFully(buf);
        }
    }

    private void write(Slot slot, NbdCodec.Request req) throws IOException {
        if ((req.flags() & ~CMD_FLAG_FUA) != 0) {
            reply(slot, req, EINVAL, "unexpected command flags");
            return;
        }
        if (!inRange(req)) {
            reply(slot, req, ENOSPC, "write beyond the end of the disk");
            return;
        }
        ByteBuffer data = slot.buffer.duplicate();
        data.limit(PREFIX + (int) req.length()).position(PREFIX);
        int error = req.length() == 0 ? 0 : run(() -> {
            WriteSplitter.write(export.engine(), req.offset(), data);
            if ((req.flags() & CMD_FLAG_FUA) != 0) export.engine().flush();
        });
        reply(slot, req, error, "write failed");
    }

    /** NBD_CMD_CACHE: fetch the range now, 64 blocks per step so no single fetch waits on a huge run. */
    private void cache(NbdCodec.Request req) throws IOException {
        Geometry g = export.engine().geometry();
        long last = g.blockOf(req.offset() + req.length() - 1);
        for (long first = g.blockOf(req.offset()); first <= last; first += 64) {
            export.engine().ensurePresent(first, Math.min(last, first + 63), false);
        }
    }

    private void writeZeroes(NbdCodec.Request req) throws IOException {
        long at = req.offset();
        long end = req.offset() + req.length();
        while (at < end) {
            int n = (int) Math.min(end - at, ZEROES.capacity());
            WriteSplitter.write(export.engine(), at, ZEROES.duplicate().limit(n));
            at += n;
        }
        if ((req.flags() & CMD_FLAG_FUA) != 0) export.engine().flush();
    }

    private void blockStatus(Slot slot, NbdCodec.Request req) throws IOException {
        if (!structured || contexts.isEmpty()) {
            reply(slot, req, EINVAL, "no metadata context was negotiated");
            return;
        }
        if ((req.flags() & ~(CMD_FLAG_REQ_ONE | CMD_FLAG_FUA)) != 0) {
            reply(slot, req, EINVAL, "unexpected command flags");
            return;
        }
        if (req.length() == 0 || !inRange(req)) {
            reply(slot, req, EINVAL, "block status range is empty or beyond the end of the disk");
            return;
        }
        boolean one = (req.flags() & CMD_FLAG_REQ_ONE) != 0;
        List<ByteBuffer> chunks = new ArrayList<>();
        for (int i = 0; i < contexts.size(); i++) {
            boolean done = i == contexts.size() - 1;
            int id = contexts.get(i);
            if (id == CONTEXT_BASE_ALLOCATION) {
                // Every byte reads as data (absent blocks read as the repository's bytes): status 0.
                chunks.add(NbdCodec.blockStatusChunk(req.handle(), done, id, new long[]{req.length()}, new int[]{0}, 1));
            } else {
                chunks.add(sluiceBlocks(req, done, id, one));
            }
        }
        synchronized (replyLock) {
            for (ByteBuffer c : chunks) writeFully(c);
        }
    }

    private ByteBuffer sluiceBlocks(NbdCodec.Request req, boolean done, int id, boolean one) {
        BlockMap map = export.engine().map();
        Geometry g = map.geometry();
        int max = one ? 1 : MAX_DESCRIPTORS;
        long[] lengths = new long[Math.min(max, (int) Math.min(Integer.MAX_VALUE, g.blockOf(req.offset() + req.length() - 1) - g.blockOf(req.offset()) + 1))];
        int[] statuses = new int[lengths.length];
        int n = 0;
        long at = req.offset();
        long end = req.offset() + req.length();
        while (at < end) {
            long block = g.blockOf(at);
            int s = map.state(block);
            int status = ((s & BlockMap.PRESENT) != 0 ? SLUICE_PRESENT : 0)
                    | (map.isDirty(BlockMap.REPOSITORY, block) ? SLUICE_DIRTY : 0);
            long stop = Math.min(end, g.blockOffset(block + 1));
            if (n > 0 && statuses[n - 1] == status) {
                lengths[n - 1] += stop - at;
            } else if (n < lengths.length) {
                lengths[n] = stop - at;
                statuses[n++] = status;
            } else {
                break;
            }
            at = stop;
        }
        return NbdCodec.blockStatusChunk(req.handle(), done, id, lengths, statuses, n);
    }

    /** Sends a reply without data: a simple reply, or for structured READ an error chunk / NONE chunk. */
    private void reply(Slot slot, NbdCodec.Request req, int error, String message) throws IOException {
        ByteBuffer b;
        if (structured && req.type() == CMD_READ) {
            if (error != 0) {
                b = NbdCodec.errorChunk(req.handle(), error, message == null ? "error" : message);
            } else {
                b = ByteBuffer.allocate(NbdCodec.STRUCTURED_HEADER_BYTES);
                NbdCodec.putStructuredHeader(b, REPLY_FLAG_DONE, REPLY_TYPE_NONE, req.handle(), 0);
                b.flip();
            }
        } else if (structured && error != 0) {
            b = NbdCodec.errorChunk(req.handle(), error, message == null ? "error" : message);
        } else {
            b = NbdCodec.simpleReply(error, req.handle());
        }
        synchronized (replyLock) {
            writeFully(b);
        }
    }

    // ---------------- channel I/O ----------------

    private ByteBuffer readBuffer(int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        readFully(b);
        return b.flip();
    }

    /**
     * The next request's header into {@link #header}. With nothing of this connection in flight (a client that waits
     * for each reply), the socket is first polled for up to {@link #SPIN_NANOS}: such a client sends its next request
     * within microseconds of the reply, and picking it up without going to sleep spares the thread a wake-up, which
     * on busy CPUs is where a QD1 read's latency tail came from. Only while the client keeps up that pace (its
     * previous request came within {@link #SPIN_WHEN_GAP_BELOW_NANOS}): a booting guest under emulation computes for
     * milliseconds between its reads, and polling then only took CPU from it. No worker writes while nothing is in
     * flight, so the channel may briefly be non-blocking.
     */
    private void readRequestHeader() throws IOException {
        header.clear();
        long waitStart = System.nanoTime();
        if (channel instanceof SocketChannel sc && freeSlots.size() == SLOTS && lastGapNanos < SPIN_WHEN_GAP_BELOW_NANOS) {
            sc.configureBlocking(false);
            try {
                long until = waitStart + SPIN_NANOS;
                while (header.hasRemaining()) {
                    int n = sc.read(header);
                    if (n < 0) throw new EOFException();
                    if (n == 0) {
                        if (header.position() == 0 && System.nanoTime() - until > 0) break;
                        Thread.onSpinWait();
                    }
                }
            } finally {
                sc.configureBlocking(true);
            }
        }
        readFully(header);
        lastGapNanos = System.nanoTime() - waitStart;
    }

    private void readFully(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            if (channel.read(b) < 0) throw new EOFException();
        }
    }

    /** Callers in transmission hold replyLock. */
    private void writeFully(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) channel.write(b);
    }

    private static String utf8(ByteBuffer b) throws NbdCodec.MalformedException {
        if (b.remaining() > NbdCodec.MAX_STRING) throw new NbdCodec.MalformedException("export name too long");
        byte[] a = new byte[b.remaining()];
        b.duplicate().get(a);
        return new String(a, java.nio.charset.StandardCharsets.UTF_8);
    }
}

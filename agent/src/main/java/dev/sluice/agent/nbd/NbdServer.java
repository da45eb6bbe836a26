package dev.sluice.agent.nbd;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * Listens on a unix socket or a TCP address and runs one {@link NbdSession} per connection (a reader
 * thread each, requests on a shared worker pool). Any number of concurrent connections.
 */
public final class NbdServer implements AutoCloseable {

    private final ServerSocketChannel listener;
    private final Path unixPath;
    private final NbdSession.Export export;
    private final ExecutorService workers;
    private final Consumer<String> log;
    private final Set<NbdSession> sessions = ConcurrentHashMap.newKeySet();
    private final AtomicInteger connections = new AtomicInteger();
    private final Thread acceptor;
    private volatile boolean closed;
    private final ScheduledExecutorService timers;
    /** A connection must finish its handshake within this time (package-private: tests shorten it). */
    volatile long handshakeTimeoutMillis = 30_000;

    private NbdServer(ServerSocketChannel listener, Path unixPath, NbdSession.Export export, int workerThreads, Consumer<String> log) {
        this.listener = listener;
        this.unixPath = unixPath;
        this.export = export;
        this.log = log;
        AtomicInteger n = new AtomicInteger();
        this.workers = Executors.newFixedThreadPool(workerThreads, r -> {
            Thread t = new Thread(r, "nbd-worker-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.timers = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "nbd-timers");
            t.setDaemon(true);
            return t;
        });
        this.acceptor = new Thread(this::acceptLoop, "nbd-accept");
        this.acceptor.setDaemon(true);
        this.acceptor.start();
    }

    /** Listens on a unix socket at {@code path}, replacing a stale socket file. */
    public static NbdServer unix(Path path, NbdSession.Export export, int workerThreads, Consumer<String> log) throws IOException {
        Files.deleteIfExists(path);
        ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        ch.bind(UnixDomainSocketAddress.of(path));
        return new NbdServer(ch, path, export, workerThreads, log);
    }

    /** Listens on TCP {@code address} (use a loopback address unless the network is trusted). */
    public static NbdServer tcp(InetSocketAddress address, NbdSession.Export export, int workerThreads, Consumer<String> log) throws IOException {
        ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.INET);
        ch.setOption(StandardSocketOptions.SO_REUSEADDR, true);
        ch.bind(address);
        return new NbdServer(ch, null, export, workerThreads, log);
    }

    public SocketAddress localAddress() throws IOException {
        return listener.getLocalAddress();
    }

    private void acceptLoop() {
        while (!closed) {
            SocketChannel ch;
            try {
                ch = listener.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                if (!closed) log.accept("nbd: accept failed: " + e.getMessage());
                continue;
            }
            try {
                if (unixPath == null) ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
            } catch (IOException ignored) {
                // best effort
            }
            NbdSession session = new NbdSession(ch, export, workers, timers, handshakeTimeoutMillis, log);
            sessions.add(session);
            Thread t = new Thread(() -> {
                try {
                    session.run();
                } finally {
                    sessions.remove(session);
                }
            }, "nbd-conn-" + connections.incrementAndGet());
            t.setDaemon(true);
            t.start();
        }
    }

    @Override
    public void close() throws IOException {
        closed = true;
        listener.close();
        for (NbdSession s : sessions) s.close();
        workers.shutdown();
        timers.shutdownNow();
        if (unixPath != null) Files.deleteIfExists(unixPath);
    }
}

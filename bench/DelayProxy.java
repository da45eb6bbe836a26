import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Arrays;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.locks.LockSupport;

/*
 * bench/DelayProxy.java: a one-way delay for TCP, for kernels without sch_netem (bench/boot.sh's emulated links).
 *
 *   proxy LISTEN_HOST:PORT TARGET_HOST:PORT DELAY_MICROS   forward every connection, each direction delayed
 *   echo  LISTEN_HOST:PORT                                 echo bytes back (the far end of a ping)
 *   ping  HOST:PORT COUNT                                  round trips of one byte: prints "rtt_ms median min max"
 *
 * Each direction of a forwarded connection is a reader thread and a writer thread joined by a bounded queue: the
 * reader stamps every chunk it reads with "now + delay", the writer sends it no earlier than that. So every byte
 * arrives DELAY later than it would have (a one-way delay, as netem's `delay` adds per packet), the bandwidth is
 * still whatever shapes the path (bench/boot.sh: tbf on the veth), and the queue's bound (256 chunks of at most
 * 64 KiB) passes back-pressure to the sender. Chunks, not packets: TCP's own acknowledgements between the proxy and
 * either end do not see the delay, so a sender's congestion window is not limited by it; at the bandwidth-delay
 * products of the bench (1 Gbit/s x 2 ms = 250 KB) the default socket buffers cover it anyway.
 * TCP_NODELAY on both sides, so Nagle's algorithm adds nothing of its own.
 */
public final class DelayProxy {

    private record Chunk(long dueNanos, byte[] data, int length) {}

    private static final Chunk EOF = new Chunk(0, new byte[0], -1);

    public static void main(String[] args) throws Exception {
        switch (args.length > 0 ? args[0] : "") {
            case "proxy" -> proxy(address(args[1]), address(args[2]), Long.parseLong(args[3]) * 1000);
            case "echo" -> echo(address(args[1]));
            case "ping" -> ping(address(args[1]), Integer.parseInt(args[2]));
            default -> {
                System.err.println("usage: DelayProxy proxy LISTEN TARGET DELAY_MICROS | echo LISTEN | ping HOST:PORT COUNT");
                System.exit(2);
            }
        }
    }

    private static InetSocketAddress address(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        return new InetSocketAddress(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)));
    }

    private static void proxy(InetSocketAddress listen, InetSocketAddress target, long delayNanos) throws IOException {
        try (ServerSocket server = new ServerSocket()) {
            server.setReuseAddress(true);
            server.bind(listen, 128);
            System.out.println("delay proxy on " + listen + " -> " + target + ", " + delayNanos / 1000 + " us each way");
            System.out.flush();
            while (true) {
                Socket client = server.accept();
                start(() -> connect(client, target, delayNanos));
            }
        }
    }

    private static void connect(Socket client, InetSocketAddress target, long delayNanos) {
        Socket upstream = new Socket();
        try {
            upstream.setTcpNoDelay(true);
            client.setTcpNoDelay(true);
            upstream.connect(target, 10_000);
        } catch (IOException e) {
            closeQuietly(client);
            closeQuietly(upstream);
            return;
        }
        direction(client, upstream, delayNanos);
        direction(upstream, client, delayNanos);
    }

    /** Starts the reader and the writer of one direction; the sockets close when both directions ended. */
    private static void direction(Socket from, Socket to, long delayNanos) {
        BlockingQueue<Chunk> queue = new ArrayBlockingQueue<>(256);
        start(() -> {
            try (InputStream in = from.getInputStream()) {
                while (true) {
                    byte[] buf = new byte[65536];
                    int n = in.read(buf);
                    if (n < 0) break;
                    queue.put(new Chunk(System.nanoTime() + delayNanos, buf, n));
                }
            } catch (IOException | InterruptedException e) {
                // the connection is gone: the writer ends at EOF
            } finally {
                try {
                    queue.put(EOF);
                } catch (InterruptedException ignored) {
                    Thread.currentThread().interrupt();
                }
            }
        });
        start(() -> {
            try {
                OutputStream out = to.getOutputStream();
                while (true) {
                    Chunk c = queue.take();
                    if (c == EOF) break;
                    for (long left; (left = c.dueNanos - System.nanoTime()) > 0; ) LockSupport.parkNanos(left);
                    out.write(c.data, 0, c.length);
                }
                to.shutdownOutput();
            } catch (IOException | InterruptedException e) {
                closeQuietly(from);
                closeQuietly(to);
            } finally {
                if (to.isOutputShutdown() && from.isOutputShutdown()) {
                    closeQuietly(from);
                    closeQuietly(to);
                }
            }
        });
    }

    private static void echo(InetSocketAddress listen) throws IOException {
        try (ServerSocket server = new ServerSocket()) {
            server.setReuseAddress(true);
            server.bind(listen);
            System.out.println("echo on " + listen);
            System.out.flush();
            while (true) {
                Socket s = server.accept();
                s.setTcpNoDelay(true);
                start(() -> {
                    try (s; InputStream in = s.getInputStream(); OutputStream out = s.getOutputStream()) {
                        byte[] buf = new byte[4096];
                        for (int n; (n = in.read(buf)) >= 0; ) out.write(buf, 0, n);
                    } catch (IOException ignored) {
                        // the client went away
                    }
                });
            }
        }
    }

    /** COUNT round trips of one byte after 20 unmeasured ones; prints the median, min and max in milliseconds. */
    private static void ping(InetSocketAddress to, int count) throws IOException {
        try (Socket s = new Socket()) {
            s.setTcpNoDelay(true);
            s.connect(to, 10_000);
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            double[] ms = new double[count];
            for (int i = -20; i < count; i++) {
                long t0 = System.nanoTime();
                out.write(i & 0x7f);
                if (in.read() < 0) throw new IOException("echo closed the connection");
                if (i >= 0) ms[i] = (System.nanoTime() - t0) / 1e6;
            }
            Arrays.sort(ms);
            System.out.printf("rtt_ms %.3f %.3f %.3f%n", ms[count / 2], ms[0], ms[count - 1]);
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // nothing left to do
        }
    }

    /** Runs {@code r} on a new daemon thread (Java 17: no virtual threads; a few connections at a time here). */
    private static void start(Runnable r) {
        Thread t = new Thread(r, "delay");
        t.setDaemon(true);
        t.start();
    }
}

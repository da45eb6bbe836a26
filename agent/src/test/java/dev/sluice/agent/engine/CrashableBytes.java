package dev.sluice.agent.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Test double for LocalStore and MapStore: a byte array whose writes are volatile until sync(). At a
 * simulated crash every un-synced write keeps a random subset of its 512-byte sectors (writes may
 * reach disk partly and in any order), everything else is lost. An optional fault plan makes the n-th
 * I/O call throw {@link Crash}, to crash in the middle of an engine operation.
 */
final class CrashableBytes implements LocalStore, MapStore {

    /** Thrown by an I/O call chosen by the fault plan: the machine dies right there. */
    static final class Crash extends RuntimeException {
        Crash() {
            super("simulated crash", null, false, false);
        }
    }

    /** Shared countdown of I/O calls until the crash (negative: never). */
    static final class FaultPlan {
        long callsLeft = -1;
        boolean fired;

        /** Once fired, every later I/O call fails too: a dead machine does no more I/O. */
        void tick() {
            if (fired) throw new Crash();
            if (callsLeft < 0) return;
            if (callsLeft-- == 0) {
                fired = true;
                throw new Crash();
            }
        }

        void reset() {
            callsLeft = -1;
            fired = false;
        }
    }

    private record Pending(long position, byte[] data) {
    }

    private byte[] current;
    private byte[] durable;
    private final List<Pending> pending = new ArrayList<>();
    private final FaultPlan faults;
    int syncCount;

    CrashableBytes(int size, FaultPlan faults) {
        this.current = new byte[size];
        this.durable = new byte[size];
        this.faults = faults;
    }

    @Override
    public synchronized ByteBuffer load() {
        return ByteBuffer.wrap(current.clone());
    }

    @Override
    public synchronized void read(long position, ByteBuffer dst) throws IOException {
        faults.tick();
        int n = dst.remaining();
        if (position + n > current.length) throw new IOException("read past end");
        dst.put(current, (int) position, n);
    }

    @Override
    public synchronized void write(long position, ByteBuffer src) {
        faults.tick();
        byte[] data = new byte[src.remaining()];
        src.get(data);
        int end = (int) position + data.length;
        if (end > current.length) {
            current = Arrays.copyOf(current, end);
            durable = Arrays.copyOf(durable, Math.max(durable.length, end));
        }
        System.arraycopy(data, 0, current, (int) position, data.length);
        pending.add(new Pending(position, data));
    }

    @Override
    public synchronized void sync() {
        faults.tick();
        durable = current.clone();
        pending.clear();
        syncCount++;
    }

    /** The machine died: keep a random subset of each un-synced write's sectors, lose the rest. */
    synchronized void crash(Random random) {
        for (Pending p : pending) {
            for (int off = 0; off < p.data.length; ) {
                long abs = p.position + off;
                int n = (int) Math.min(p.data.length - off, 512 - (abs % 512));
                if (random.nextBoolean()) System.arraycopy(p.data, off, durable, (int) abs, n);
                off += n;
            }
        }
        pending.clear();
        current = durable.clone();
    }

    synchronized byte[] snapshot() {
        return current.clone();
    }
}

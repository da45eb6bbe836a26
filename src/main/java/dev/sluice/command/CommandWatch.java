package dev.sluice.command;

import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.runtime.StartupEvent;
import io.vertx.core.Vertx;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jboss.logging.Logger;

/**
 * Wakes long polls when a command for their machine appears, whichever replica wrote it. One query per replica
 * every {@link #LOOK_MILLIS} ms asks which of the machines being waited for have a pending command (and none when
 * nobody waits), so the database load grows with the number of replicas, not of connected agents. The query runs
 * on a worker thread; waiters are plain callbacks, never a blocked thread.
 */
@ApplicationScoped
public class CommandWatch {
    static final long LOOK_MILLIS = 250;
    private static final int IN_LIST = 1000;
    private static final Logger LOG = Logger.getLogger(CommandWatch.class);

    @Inject
    Vertx vertx;

    private final ConcurrentHashMap<String, Set<Runnable>> waiters = new ConcurrentHashMap<>();
    private final AtomicBoolean looking = new AtomicBoolean();

    void start(@Observes StartupEvent event) {
        vertx.setPeriodic(LOOK_MILLIS, id -> look());
    }

    /** Runs {@code wake} (once) when a pending command for the machine may exist. Returns the cancellation. */
    public Runnable await(String machineId, Runnable wake) {
        waiters.computeIfAbsent(machineId, k -> ConcurrentHashMap.newKeySet()).add(wake);
        return () -> waiters.computeIfPresent(machineId, (k, set) -> {
            set.remove(wake);
            return set.isEmpty() ? null : set;
        });
    }

    /**
     * A command for the machine was just committed through this replica: wake its polls here now instead of at the
     * next look (up to {@link #LOOK_MILLIS} later). Call only after the commit: a woken poll queries again and
     * parks anew if it finds nothing. Polls held by other replicas still learn of it from their own look.
     */
    public void wake(String machineId) {
        Set<Runnable> woken = waiters.remove(machineId);
        if (woken != null) {
            woken.forEach(Runnable::run);
        }
    }

    private void look() {
        if (waiters.isEmpty() || !looking.compareAndSet(false, true)) {
            return;
        }
        List<String> waiting = new ArrayList<>(waiters.keySet());
        vertx.executeBlocking(() -> QuarkusTransaction.requiringNew().call(() -> pendingAmong(waiting)), false).onComplete(ar -> {
            looking.set(false);
            if (ar.failed()) {
                LOG.debugf(ar.cause(), "looking for pending machine commands failed");
                return;
            }
            for (String machine : ar.result()) {
                Set<Runnable> woken = waiters.remove(machine);
                if (woken != null) {
                    woken.forEach(Runnable::run);
                }
            }
        });
    }

    private static List<String> pendingAmong(List<String> machines) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < machines.size(); i += IN_LIST) {
            out.addAll(MachineCommand.getEntityManager()
                    .createQuery("select distinct c.machineId from MachineCommand c where c.state = :state and c.machineId in :ids", String.class)
                    .setParameter("state", MachineCommand.PENDING)
                    .setParameter("ids", machines.subList(i, Math.min(machines.size(), i + IN_LIST)))
                    .getResultList());
        }
        return out;
    }
}

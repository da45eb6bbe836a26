package dev.sluice.boot;

import io.quarkus.hibernate.orm.panache.Panache;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.persistence.LockModeType;
import java.sql.PreparedStatement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.hibernate.Session;

/**
 * The boot_reads table: each boot's first touches, once per block, in first-touch order (seq), bounded by
 * {@code sluice.boot.trace-cap} per boot. Callers hold a transaction; {@link #lock} serializes appends to one boot.
 */
@ApplicationScoped
public class BootReads {
    public static final String REMOTE = "remote";
    public static final String AGENT = "agent";

    @ConfigProperty(name = "sluice.boot.trace-cap", defaultValue = "16384")
    int cap;

    /** The boot, locked for appending (null if it does not exist). */
    public Boot lock(String bootId) {
        return Boot.findById(bootId, LockModeType.PESSIMISTIC_WRITE);
    }

    /**
     * Appends the blocks {@code boot} has not touched yet, in the given order, up to the cap; counts them on the
     * boot. Returns how many were new. The boot must be {@link #lock}ed in the caller's transaction.
     */
    public int append(Boot boot, List<Long> blocks, String source) {
        int recorded = boot.remoteBlocks + boot.agentBlocks;
        if (blocks.isEmpty() || recorded >= cap) {
            return 0;
        }
        Set<Long> seen = new HashSet<>(trace(boot.id));
        List<Long> fresh = new ArrayList<>();
        for (Long b : blocks) {
            if (recorded + fresh.size() >= cap) {
                break;
            }
            if (seen.add(b)) {
                fresh.add(b);
            }
        }
        if (fresh.isEmpty()) {
            return 0;
        }
        int firstSeq = seen.size() - fresh.size();
        Panache.getEntityManager().unwrap(Session.class).doWork(c -> {
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO boot_reads (boot_id, block_index, seq, source) VALUES (?, ?, ?, ?)")) {
                for (int i = 0; i < fresh.size(); i++) {
                    ps.setString(1, boot.id);
                    ps.setLong(2, fresh.get(i));
                    ps.setInt(3, firstSeq + i);
                    ps.setString(4, source);
                    ps.addBatch();
                }
                ps.executeBatch();
            }
        });
        if (REMOTE.equals(source)) {
            boot.remoteBlocks += fresh.size();
        } else {
            boot.agentBlocks += fresh.size();
        }
        return fresh.size();
    }

    /** The boot's first touches in order. */
    @SuppressWarnings("unchecked")
    public List<Long> trace(String bootId) {
        List<Number> rows = Panache.getEntityManager()
                .createNativeQuery("SELECT block_index FROM boot_reads WHERE boot_id = ?1 ORDER BY seq")
                .setParameter(1, bootId).getResultList();
        return rows.stream().map(Number::longValue).toList();
    }
}

package dev.sluice.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.List;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The boot profile's native SQL also runs on the embedded H2 database (README run command), with the same
 * answer as on PostgreSQL (BootEndpointTest); the merge of the traces: blocks by mean first-touch position, ties by index.
 */
class BootSqlPortabilityTest {
    @Test
    void theProfileQueriesRunOnTheEmbeddedDatabase(@TempDir Path dir) throws Exception {
        String url = "jdbc:h2:file:" + dir.resolve("db") + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH";
        Flyway.configure().dataSource(url, "sa", "").locations("classpath:db/migration").load().migrate();
        try (Connection c = DriverManager.getConnection(url, "sa", "")) {
            exec(c, "INSERT INTO tenants (id, name, created_at, updated_at, version) VALUES ('t', 't', now(), now(), 0)");
            exec(c, "INSERT INTO images (id, tenant_id, name, labels, size_bytes, block_size, state, created_at, updated_at, version)"
                    + " VALUES ('i', 't', 'i', '{}', 1048576, 65536, 'AVAILABLE', now(), now(), 0)");
            exec(c, "INSERT INTO machines (id, tenant_id, name, image_id, labels, state, created_at, updated_at, version)"
                    + " VALUES ('m', 't', 'm', 'i', '{}', 'RUNNING', now(), now(), 0)");
            boot(c, "a", "2026-01-01 00:00:00", new long[]{1, 2, 3, 4});
            boot(c, "b", "2026-01-02 00:00:00", new long[]{3, 1, 5});
            boot(c, "c", "2026-01-03 00:00:00", new long[]{});

            List<String> boots = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement(jdbc(BootService.TRACED_BOOTS_SQL))) {
                ps.setString(1, "i");
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        boots.add(rs.getString(1));
                    }
                }
            }
            assertEquals(List.of("b", "a"), boots, "boots with first touches, newest first");

            assertEquals(List.of(3L, 1L, 5L), traceRows(c, "b", 0, 3), "a boot's first touches in order");
            assertEquals(List.of(1L, 5L), traceRows(c, "b", 1, 3), "only the rows not read yet");
            assertEquals(List.of(1L, 2L, 3L, 5L, 4L), BootService.mergeByMeanPosition(
                    List.of(toArray(traceRows(c, "a", 0, 4)), toArray(traceRows(c, "b", 0, 3))), 16));
            assertEquals(List.of(1L, 2L), BootService.mergeByMeanPosition(List.of(new long[]{1, 2, 3, 4}, new long[]{3, 1, 5}), 2));
        }
    }

    private static List<Long> traceRows(Connection c, String boot, int from, int to) throws Exception {
        List<Long> rows = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(jdbc(BootService.TRACE_ROWS_SQL))) {
            ps.setString(1, boot);
            ps.setInt(2, from);
            ps.setInt(3, to);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    rows.add(rs.getLong(1));
                }
            }
        }
        return rows;
    }

    private static long[] toArray(List<Long> list) {
        return list.stream().mapToLong(Long::longValue).toArray();
    }

    /** Hibernate's ?1 placeholders as JDBC's ?. */
    private static String jdbc(String sql) {
        return sql.replaceAll("\\?\\d+", "?");
    }

    private static void boot(Connection c, String id, String started, long[] blocks) throws Exception {
        int n = blocks.length;
        exec(c, "INSERT INTO boots (id, tenant_id, machine_id, image_id, phase, remote_blocks, agent_blocks, started_at, version)"
                + " VALUES ('" + id + "', 't', 'm', 'i', 'AGENT', 0, " + n + ", TIMESTAMP WITH TIME ZONE '" + started + "+00', 0)");
        for (int i = 0; i < n; i++) {
            exec(c, "INSERT INTO boot_reads (boot_id, block_index, seq, source) VALUES ('" + id + "', " + blocks[i] + ", " + i + ", 'agent')");
        }
    }

    private static void exec(Connection c, String sql) throws Exception {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.executeUpdate();
        }
    }
}

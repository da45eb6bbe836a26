package dev.sluice.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.util.Set;
import java.util.TreeSet;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The same migrations must apply to the embedded H2 database (README run command) as to PostgreSQL (every
 * other test): this applies them to a fresh H2 file database in PostgreSQL mode and checks every tenant-owned
 * table has an indexed tenant_id.
 */
class MigrationPortabilityTest {
    @Test
    void migrationsApplyToTheEmbeddedDatabaseAndEveryTenantTableIsIndexed(@TempDir Path dir) throws Exception {
        String url = "jdbc:h2:file:" + dir.resolve("db") + ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH";
        var result = Flyway.configure().dataSource(url, "sa", "").locations("classpath:db/migration").load().migrate();
        assertTrue(result.success);
        assertTrue(result.migrationsExecuted >= 1);
        try (Connection c = DriverManager.getConnection(url, "sa", "")) {
            Set<String> tenantTables = new TreeSet<>();
            try (ResultSet rs = c.getMetaData().getColumns(null, "public", "%", "tenant_id")) {
                while (rs.next()) {
                    tenantTables.add(rs.getString("TABLE_NAME"));
                }
            }
            assertTrue(tenantTables.containsAll(Set.of("api_tokens", "images", "machines", "snapshots", "operations", "idempotency_keys")), tenantTables.toString());
            for (String table : tenantTables) {
                boolean indexed = false;
                try (ResultSet rs = c.getMetaData().getIndexInfo(null, "public", table, false, false)) {
                    while (rs.next()) {
                        if ("tenant_id".equalsIgnoreCase(rs.getString("COLUMN_NAME")) && rs.getInt("ORDINAL_POSITION") == 1) {
                            indexed = true;
                        }
                    }
                }
                assertTrue(indexed, table + ".tenant_id has no index leading with it");
            }
            try (ResultSet rs = c.createStatement().executeQuery("SELECT count(*) FROM flyway_schema_history WHERE success AND type = 'SQL'")) {
                rs.next();
                assertEquals(result.migrationsExecuted, rs.getInt(1));
            }
        }
    }
}

package dev.sluice.api;

import static dev.sluice.api.Api.as;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.token.TokenService;
import io.agroal.api.AgroalDataSource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Secrets are stored only as hashes, shown once, never listed, never replayed, never logged. */
@QuarkusTest
class TokenSecrecyTest {
    @Inject
    AgroalDataSource db;

    @Test
    void tokensAreStoredOnlyAsHashesAndShownOnce() throws Exception {
        Api.Tenant tenant = Api.Tenant.create();
        Response created = as(tenant.admin()).body(Map.of("name", "ci", "role", "tenant-member")).post("/api/v1/tokens");
        assertEquals(201, created.statusCode(), created.asString());
        String secret = created.path("secret");
        String id = created.path("id");
        Api.SECRETS.add(secret);
        assertTrue(secret.startsWith("slc_") && secret.length() >= 40, secret.length() + " chars");

        List<String> columns = new ArrayList<>();
        try (Connection c = db.getConnection(); PreparedStatement ps = c.prepareStatement("SELECT * FROM api_tokens WHERE id = ?")) {
            ps.setString(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                assertTrue(rs.next());
                for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
                    String v = rs.getString(i);
                    columns.add(v);
                    assertFalse(v != null && v.contains(secret.substring(4, 20)), "column " + rs.getMetaData().getColumnName(i) + " holds the secret");
                }
                assertEquals(TokenService.hash(secret), rs.getString("token_hash"));
            }
        }
        // The secret works, and is never shown again.
        assertEquals(200, as(secret).get("/api/v1/images").statusCode());
        Response listed = as(tenant.admin()).get("/api/v1/tokens");
        assertFalse(listed.asString().contains(secret), "list shows a secret");
        assertFalse(listed.asString().contains("tokenHash") || listed.asString().contains(TokenService.hash(secret)), "list shows a hash");
        assertNull(as(tenant.admin()).get("/api/v1/tokens/" + id).path("secret"));
    }

    @Test
    void anIdempotentReplayOfATokenCreationDoesNotCarryTheSecret() throws Exception {
        Api.Tenant tenant = Api.Tenant.create();
        String key = Api.unique("key");
        Response first = as(tenant.admin()).header("Idempotency-Key", key).body(Map.of("name", "r", "role", "tenant-viewer")).post("/api/v1/tokens");
        Api.SECRETS.add(first.path("secret"));
        Response replay = as(tenant.admin()).header("Idempotency-Key", key).body(Map.of("name", "r", "role", "tenant-viewer")).post("/api/v1/tokens");
        assertEquals(201, replay.statusCode());
        assertEquals(first.<String>path("id"), replay.path("id"));
        assertNull(replay.path("secret"));
        try (Connection c = db.getConnection(); PreparedStatement ps = c.prepareStatement("SELECT response_body FROM idempotency_keys WHERE idem_key = ?")) {
            ps.setString(1, key);
            try (ResultSet rs = ps.executeQuery()) {
                assertTrue(rs.next());
                assertFalse(rs.getString(1).contains(first.<String>path("secret")));
            }
        }
    }

    @Test
    void revocationAndExpiryTakeEffectImmediately() throws Exception {
        Api.Tenant tenant = Api.Tenant.create();
        Response created = as(tenant.admin()).body(Map.of("name", "short", "role", "tenant-viewer",
                "expiresAt", java.time.Instant.now().plusSeconds(3600).toString())).post("/api/v1/tokens");
        String secret = created.path("secret");
        Api.SECRETS.add(secret);
        assertEquals(200, as(secret).get("/api/v1/images").statusCode());
        assertEquals(204, as(tenant.admin()).delete("/api/v1/tokens/" + created.<String>path("id")).statusCode());
        assertEquals(401, as(secret).get("/api/v1/images").statusCode());
        assertEquals("revoked", as(tenant.admin()).get("/api/v1/tokens/" + created.<String>path("id")).path("state"));
        BadInputTest.assertProblem(as(tenant.admin()).body(Map.of("name", "past", "role", "tenant-viewer", "expiresAt", "2001-01-01T00:00:00Z")).post("/api/v1/tokens"), 422, "expiresAt");
        // A tenant admin cannot mint a platform admin, nor a token of another tenant's.
        BadInputTest.assertProblem(as(tenant.admin()).body(Map.of("name", "up", "role", "platform-admin")).post("/api/v1/tokens"), 422, "role");
    }
}

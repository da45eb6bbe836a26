package dev.sluice.api;

import static dev.sluice.api.Api.as;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.agroal.api.AgroalDataSource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** ETag/If-Match, Idempotency-Key, per-tenant uniqueness and cursor pagination. */
@QuarkusTest
class ConventionsTest {
    @Inject
    AgroalDataSource db;

    Api.Tenant tenant;

    @BeforeEach
    void setUp() {
        tenant = Api.Tenant.create();
    }

    @Test
    void etagChangesOnEveryChangeAndIfMatchGuardsPatchAndDelete() {
        String id = tenant.image();
        Response got = as(tenant.viewer()).get("/api/v1/images/" + id);
        String etag = got.header("ETag");
        assertNotNull(etag);
        assertTrue(etag.matches("\"[0-9]+\""), "strong ETag expected: " + etag);
        assertEquals(etag, as(tenant.viewer()).get("/api/v1/images/" + id).header("ETag"), "ETag must be stable while unchanged");

        Response patched = as(tenant.member()).header("If-Match", etag).body(Map.of("description", "v2")).patch("/api/v1/images/" + id);
        assertEquals(200, patched.statusCode(), patched.asString());
        String etag2 = patched.header("ETag");
        assertNotEquals(etag, etag2);
        assertEquals("v2", patched.path("description"));

        // A writer holding the old ETag loses: 412, and nothing changes.
        Response stale = as(tenant.member()).header("If-Match", etag).body(Map.of("description", "lost update")).patch("/api/v1/images/" + id);
        BadInputTest.assertProblem(stale, 412, null);
        assertEquals("v2", as(tenant.viewer()).get("/api/v1/images/" + id).path("description"));
        // Weak tags never match (strong comparison), "*" matches any current representation.
        BadInputTest.assertProblem(as(tenant.member()).header("If-Match", "W/" + etag2).body(Map.of("description", "w")).patch("/api/v1/images/" + id), 412, null);
        assertEquals(200, as(tenant.member()).header("If-Match", "\"1000\", " + etag2).body(Map.of("labels", Map.of("a", "1"))).patch("/api/v1/images/" + id).statusCode());
        String etag3 = as(tenant.viewer()).get("/api/v1/images/" + id).header("ETag");

        BadInputTest.assertProblem(as(tenant.member()).header("If-Match", etag2).delete("/api/v1/images/" + id), 412, null);
        assertEquals(204, as(tenant.member()).header("If-Match", etag3).delete("/api/v1/images/" + id).statusCode());
        BadInputTest.assertProblem(as(tenant.viewer()).get("/api/v1/images/" + id), 404, null);
    }

    @Test
    void mergePatchSetsMergesAndClears() {
        String id = tenant.image();
        as(tenant.member()).contentType("application/merge-patch+json").body("{\"labels\":{\"a\":\"1\",\"b\":\"2\"},\"description\":\"d\"}")
                .patch("/api/v1/images/" + id).then().statusCode(200);
        Response r = as(tenant.member()).contentType("application/merge-patch+json").body("{\"labels\":{\"a\":null,\"c\":\"3\"}}")
                .patch("/api/v1/images/" + id);
        assertEquals(Map.of("b", "2", "c", "3"), r.path("labels"));
        assertEquals("d", r.path("description"), "absent members are left alone");
        r = as(tenant.member()).contentType("application/merge-patch+json").body("{\"description\":null,\"labels\":null}").patch("/api/v1/images/" + id);
        assertNull(r.path("description"));
        assertEquals(Map.of(), r.path("labels"));
    }

    @Test
    void idempotencyKeyReplaysTheFirstResponseAndRejectsADifferentBody() throws Exception {
        String key = Api.unique("key");
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("name", Api.unique("img"));
        body.put("sizeBytes", 8192);
        body.put("labels", Map.of("x", "1", "y", "2"));
        Response first = as(tenant.member()).header("Idempotency-Key", key).body(body).post("/api/v1/images");
        assertEquals(201, first.statusCode(), first.asString());
        // Same body with members in another order is the same request.
        Response again = as(tenant.member()).header("Idempotency-Key", key)
                .body("{\"labels\":{\"y\":\"2\",\"x\":\"1\"},\"sizeBytes\":8192,\"name\":\"" + body.get("name") + "\"}").post("/api/v1/images");
        assertEquals(201, again.statusCode(), again.asString());
        assertEquals(first.<String>path("id"), again.path("id"));
        assertEquals(first.header("Location"), again.header("Location"));
        assertEquals(first.header("ETag"), again.header("ETag"));
        assertEquals("true", again.header("Idempotent-Replayed"));
        assertEquals(1, countImages(body.get("name").toString()));

        body.put("sizeBytes", 16384);
        BadInputTest.assertProblem(as(tenant.member()).header("Idempotency-Key", key).body(body).post("/api/v1/images"), 422, null);
        // Keys are per tenant: another tenant's identical key is independent.
        Api.Tenant other = Api.Tenant.create();
        assertEquals(201, as(other.member()).header("Idempotency-Key", key).body(body).post("/api/v1/images").statusCode());
    }

    @Test
    void aKeyStillRunningAnswers409() throws Exception {
        String key = Api.unique("key");
        try (Connection c = db.getConnection(); PreparedStatement ps = c.prepareStatement(
                "INSERT INTO idempotency_keys (scope, idem_key, tenant_id, request_hash, state, created_at) VALUES (?, ?, ?, 'h', 'IN_PROGRESS', ?)")) {
            ps.setString(1, tenant.id());
            ps.setString(2, key);
            ps.setString(3, tenant.id());
            ps.setTimestamp(4, new java.sql.Timestamp(System.currentTimeMillis()));
            ps.executeUpdate();
        }
        // The fingerprint differs from 'h', but "in progress" is only reported for the same request; use the real path:
        Response r = as(tenant.member()).header("Idempotency-Key", key).body(Map.of("name", Api.unique("i"), "sizeBytes", 4096)).post("/api/v1/images");
        assertTrue(r.statusCode() == 409 || r.statusCode() == 422, r.asString());
    }

    @Test
    void concurrentRequestsWithTheSameKeyCreateExactlyOneResource() throws Exception {
        String key = Api.unique("key");
        String name = Api.unique("img");
        int n = 8;
        ExecutorService pool = Executors.newFixedThreadPool(n);
        CountDownLatch start = new CountDownLatch(1);
        List<Future<Response>> futures = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Callable<Response> call = () -> {
                start.await();
                return as(tenant.member()).header("Idempotency-Key", key).body(Map.of("name", name, "sizeBytes", 4096)).post("/api/v1/images");
            };
            futures.add(pool.submit(call));
        }
        start.countDown();
        Set<String> ids = new HashSet<>();
        int created = 0;
        for (Future<Response> f : futures) {
            Response r = f.get();
            if (r.statusCode() == 201) {
                created++;
                ids.add(r.path("id"));
            } else {
                assertEquals(409, r.statusCode(), r.asString());
                assertEquals("https://sluice.dev/problems/idempotency-in-progress", r.path("type"));
            }
        }
        pool.shutdown();
        assertTrue(created >= 1);
        assertEquals(1, ids.size(), "every 201 must describe the same image");
        assertEquals(1, countImages(name));
        // Once done, a retry replays.
        Response replay = as(tenant.member()).header("Idempotency-Key", key).body(Map.of("name", name, "sizeBytes", 4096)).post("/api/v1/images");
        assertEquals(201, replay.statusCode());
        assertEquals(ids.iterator().next(), replay.path("id"));
    }

    @Test
    void aFailedRequestReleasesItsKey() {
        String key = Api.unique("key");
        String image = tenant.image();
        Response conflict = as(tenant.member()).header("Idempotency-Key", key)
                .body(Map.of("name", as(tenant.viewer()).get("/api/v1/images/" + image).<String>path("name"), "sizeBytes", 4096)).post("/api/v1/images");
        BadInputTest.assertProblem(conflict, 409, "name");
        Response ok = as(tenant.member()).header("Idempotency-Key", key).body(Map.of("name", Api.unique("fresh"), "sizeBytes", 4096)).post("/api/v1/images");
        assertEquals(201, ok.statusCode(), "a key whose request failed may be used again: " + ok.asString());
    }

    @Test
    void namesAreUniquePerTenantEvenUnderConcurrency() throws Exception {
        String name = Api.unique("dup");
        int n = 6;
        ExecutorService pool = Executors.newFixedThreadPool(n);
        CountDownLatch start = new CountDownLatch(1);
        List<Future<Integer>> futures = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            futures.add(pool.submit(() -> {
                start.await();
                return as(tenant.member()).body(Map.of("name", name, "sizeBytes", 4096)).post("/api/v1/images").statusCode();
            }));
        }
        start.countDown();
        int created = 0;
        for (Future<Integer> f : futures) {
            int s = f.get();
            assertTrue(s == 201 || s == 409, "status " + s);
            created += s == 201 ? 1 : 0;
        }
        pool.shutdown();
        assertEquals(1, created);
        assertEquals(1, countImages(name));
        // The same name in another tenant is fine; the same machine MAC twice in a tenant is not.
        Api.Tenant other = Api.Tenant.create();
        assertEquals(201, as(other.member()).body(Map.of("name", name, "sizeBytes", 4096)).post("/api/v1/images").statusCode());
        String image = tenant.image();
        assertEquals(201, as(tenant.member()).body(Map.of("name", Api.unique("m"), "imageId", image, "mac", "52:54:00:AA:BB:01")).post("/api/v1/machines").statusCode());
        BadInputTest.assertProblem(as(tenant.member()).body(Map.of("name", Api.unique("m"), "imageId", image, "mac", "52-54-00-aa-bb-01")).post("/api/v1/machines"), 409, "mac");
    }

    @Test
    void cursorPagesVisitEveryItemOnceInCreationOrder() {
        List<String> created = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            created.add(tenant.image());
        }
        List<String> seen = new ArrayList<>();
        String token = null;
        int pages = 0;
        do {
            var req = as(tenant.viewer()).queryParam("pageSize", 3);
            if (token != null) {
                req = req.queryParam("pageToken", token);
            }
            Response page = req.get("/api/v1/images");
            assertEquals(200, page.statusCode());
            List<String> ids = page.path("items.id");
            assertTrue(ids.size() <= 3);
            seen.addAll(ids);
            token = page.path("nextPageToken");
            pages++;
        } while (token != null);
        assertEquals(created, seen);
        assertEquals(3, pages);
    }

    private long countImages(String name) throws Exception {
        try (Connection c = db.getConnection(); PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM images WHERE tenant_id = ? AND name = ?")) {
            ps.setString(1, tenant.id());
            ps.setString(2, name);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }
}

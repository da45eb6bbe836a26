package dev.sluice.api;

import static io.restassured.RestAssured.given;

import io.restassured.http.ContentType;
import io.restassured.response.Response;
import io.restassured.specification.RequestSpecification;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/** Test fixture: drives the real API as its clients do, and remembers every secret it saw (for the log audit). */
public final class Api {
    public static final String BOOTSTRAP = "test-bootstrap-platform-admin-secret";
    /** Every token secret the tests were given; none may ever appear in a log. */
    public static final Set<String> SECRETS = ConcurrentHashMap.newKeySet();
    private static final AtomicInteger SEQ = new AtomicInteger();

    static {
        SECRETS.add(BOOTSTRAP);
    }

    private Api() {
    }

    public static RequestSpecification as(String token) {
        RequestSpecification spec = given().contentType(ContentType.JSON).accept(ContentType.JSON);
        return token == null ? spec : spec.header("Authorization", "Bearer " + token);
    }

    public static String unique(String prefix) {
        return prefix + "-" + System.nanoTime() % 1_000_000_000L + "-" + SEQ.incrementAndGet();
    }

    public static String createTenant() {
        return as(BOOTSTRAP).body(Map.of("name", unique("t"))).post("/api/v1/tenants")
                .then().statusCode(201).extract().path("id");
    }

    public static Response issueToken(String tenantId, String role) {
        return as(BOOTSTRAP).body(Map.of("name", unique("k"), "role", role)).post("/api/v1/tenants/" + tenantId + "/tokens");
    }

    public static String token(String tenantId, String role) {
        String secret = issueToken(tenantId, role).then().statusCode(201).extract().path("secret");
        SECRETS.add(secret);
        return secret;
    }

    /** A problem+json response with this status, a stable type, and (if given) an error naming {@code field}. */
    public static void assertProblem(Response r, int status, String field) {
        org.junit.jupiter.api.Assertions.assertEquals(status, r.statusCode(), r.asString());
        org.junit.jupiter.api.Assertions.assertTrue(r.contentType().startsWith("application/problem+json"), "content type " + r.contentType());
        org.junit.jupiter.api.Assertions.assertTrue(r.<String>path("type").startsWith("https://sluice.dev/problems/"), r.asString());
        org.junit.jupiter.api.Assertions.assertEquals(status, (int) r.<Integer>path("status"));
        if (field != null) {
            List<String> fields = r.path("errors.field");
            org.junit.jupiter.api.Assertions.assertTrue(fields != null && fields.contains(field), "expected field " + field + " in " + r.asString());
        }
    }

    /** A tenant with one token of each tenant role. */
    public record Tenant(String id, String admin, String member, String viewer) {
        public static Tenant create() {
            String id = createTenant();
            return new Tenant(id, token(id, "tenant-admin"), token(id, "tenant-member"), token(id, "tenant-viewer"));
        }

        public String image() {
            return as(member).body(Map.of("name", unique("img"), "sizeBytes", 1 << 20)).post("/api/v1/images")
                    .then().statusCode(201).extract().path("id");
        }

        public String machine(String imageId) {
            return as(member).body(Map.of("name", unique("m"), "imageId", imageId)).post("/api/v1/machines")
                    .then().statusCode(201).extract().path("id");
        }
    }
}

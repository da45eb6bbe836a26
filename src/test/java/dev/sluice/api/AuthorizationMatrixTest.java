package dev.sluice.api;

import static dev.sluice.api.Api.as;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.agroal.api.AgroalDataSource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Every operation of the served OpenAPI document × {no/invalid/expired/revoked token → 401, insufficient role →
 * 403, another tenant's resource → 404, the right role → authorized, a machine credential → authorized on its own
 * machine and image only (another machine or image: 404; everything else: 403)}. The operation list comes from the
 * document, and an operation missing from {@link #RULES} fails the test: a new endpoint cannot be forgotten.
 */
@QuarkusTest
class AuthorizationMatrixTest {

    enum Needs { PLATFORM_ADMIN, TENANT_ADMIN_OR_PLATFORM, TENANT_ADMIN, TENANT_MEMBER, TENANT_VIEWER }

    /** What each operation needs, and a valid body for it (built from the calling tenant's fixtures). */
    record Rule(Needs needs, Function<Fixture, Object> body, String query, Integer authorizedStatus) {
        Rule(Needs needs, Function<Fixture, Object> body) {
            this(needs, body, "", null);
        }

        static Rule of(Needs needs) {
            return new Rule(needs, f -> null);
        }

        /** query: appended to the path; authorizedStatus: what the right role gets from the probe, if not the default. */
        static Rule of(Needs needs, String query, Integer authorizedStatus) {
            return new Rule(needs, f -> null, query, authorizedStatus);
        }
    }

    record Fixture(Api.Tenant tenant, String image, String machine, String snapshot, String operation, String token,
                   String machineCredential) {
        /** The same tenant's fixtures, but another machine and image. */
        Fixture with(String otherImage, String otherMachine) {
            return new Fixture(tenant, otherImage, otherMachine, snapshot, operation, token, machineCredential);
        }
    }

    /** The operations a machine credential may call, on its own machine and its machine's image only. */
    static final Set<String> MACHINE_OWN = Set.of("getMachine", "putMachineHydration", "readImageDisk", "readImageBlock",
            "readImageBlockRun", "readImageManifest", "listMachineCommands", "getSnapshotUpload", "putSnapshotUploadCut",
            "uploadSnapshotBlocks", "completeSnapshotUpload",
            "handoffMachineBoot", "reportMachineBootMisses");

    static final Map<String, Rule> RULES = Map.ofEntries(
            Map.entry("createTenant", new Rule(Needs.PLATFORM_ADMIN, f -> Map.of("name", Api.unique("t")))),
            Map.entry("listTenants", Rule.of(Needs.PLATFORM_ADMIN)),
            Map.entry("getTenant", Rule.of(Needs.PLATFORM_ADMIN)),
            Map.entry("deleteTenant", Rule.of(Needs.PLATFORM_ADMIN)),
            Map.entry("createTenantToken", new Rule(Needs.PLATFORM_ADMIN, f -> Map.of("name", "k", "role", "tenant-viewer"))),
            Map.entry("createToken", new Rule(Needs.TENANT_ADMIN_OR_PLATFORM, f -> Map.of("name", "k", "role", "tenant-viewer"))),
            Map.entry("listTokens", Rule.of(Needs.TENANT_ADMIN_OR_PLATFORM)),
            Map.entry("getToken", Rule.of(Needs.TENANT_ADMIN_OR_PLATFORM)),
            Map.entry("revokeToken", Rule.of(Needs.TENANT_ADMIN_OR_PLATFORM)),
            Map.entry("createImage", new Rule(Needs.TENANT_MEMBER, f -> Map.of("name", Api.unique("i"), "sizeBytes", 4096))),
            Map.entry("listImages", Rule.of(Needs.TENANT_VIEWER)),
            Map.entry("getImage", Rule.of(Needs.TENANT_VIEWER)),
            Map.entry("patchImage", new Rule(Needs.TENANT_MEMBER, f -> Map.of("description", "d"))),
            Map.entry("deleteImage", Rule.of(Needs.TENANT_MEMBER)),
            Map.entry("createMachine", new Rule(Needs.TENANT_MEMBER, f -> Map.of("name", Api.unique("m"), "imageId", f.image()))),
            Map.entry("listMachines", Rule.of(Needs.TENANT_VIEWER)),
            Map.entry("getMachine", Rule.of(Needs.TENANT_VIEWER)),
            Map.entry("patchMachine", new Rule(Needs.TENANT_MEMBER, f -> Map.of("labels", Map.of("a", "b")))),
            Map.entry("deleteMachine", Rule.of(Needs.TENANT_MEMBER)),
            Map.entry("createMachineCredential", new Rule(Needs.TENANT_MEMBER, f -> Map.of("name", "agent"))),
            // The fixture image is 1 MiB of 64 KiB blocks: 16.
            Map.entry("putMachineHydration", new Rule(Needs.TENANT_MEMBER, f -> Map.of("presentBlocks", 3, "totalBlocks", 16,
                    "dirtyBlocks", 1, "bytesFetched", 3 << 16, "fetchRateBytesPerSecond", 1000, "state", "streaming"))),
            Map.entry("listMachineBoots", Rule.of(Needs.TENANT_VIEWER)),
            Map.entry("handoffMachineBoot", Rule.of(Needs.TENANT_MEMBER, "", 200)),
            // The probe names a boot the machine does not have: refused as invalid, proof it was authorized.
            Map.entry("reportMachineBootMisses", new Rule(Needs.TENANT_MEMBER,
                    f -> Map.of("bootId", "boot_00000000000000000000000000", "blocks", java.util.List.of(1)), "", 422)),
            Map.entry("getImageBootProfile", Rule.of(Needs.TENANT_VIEWER)),
            Map.entry("listSnapshots", Rule.of(Needs.TENANT_VIEWER)),
            Map.entry("createMachineSnapshot", new Rule(Needs.TENANT_MEMBER, f -> Map.of("name", Api.unique("s")), "", 202)),
            Map.entry("listMachineCommands", Rule.of(Needs.TENANT_MEMBER)),
            // The fixture's operation is a snapshot operation without an upload in progress: the authorized probe gets 409.
            Map.entry("getSnapshotUpload", Rule.of(Needs.TENANT_MEMBER, "", 409)),
            Map.entry("putSnapshotUploadCut", new Rule(Needs.TENANT_MEMBER, f -> Map.of("cutBlocks", 0), "", 409)),
            Map.entry("uploadSnapshotBlocks", Rule.of(Needs.TENANT_MEMBER, "", 409)),
            Map.entry("completeSnapshotUpload", new Rule(Needs.TENANT_MEMBER,
                    f -> Map.of("cutBlocks", 0, "cutDigest", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), "", 409)),
            Map.entry("getSnapshot", Rule.of(Needs.TENANT_VIEWER)),
            Map.entry("getOperation", Rule.of(Needs.TENANT_VIEWER)),
            Map.entry("getImageContent", Rule.of(Needs.TENANT_VIEWER)),
            Map.entry("createImageDiskUrl", new Rule(Needs.TENANT_VIEWER, f -> Map.of("ttlSeconds", 60))),
            // The fixture image is complete, so the upload probe is refused as a conflict: proof it was authorized.
            Map.entry("uploadImageContent", Rule.of(Needs.TENANT_MEMBER, "", 409)),
            Map.entry("readImageDisk", Rule.of(Needs.TENANT_VIEWER)),
            Map.entry("readImageBlock", Rule.of(Needs.TENANT_VIEWER)),
            Map.entry("readImageBlockRun", Rule.of(Needs.TENANT_VIEWER, "?start=0&count=2", null)),
            Map.entry("readImageManifest", Rule.of(Needs.TENANT_VIEWER)));

    record Endpoint(String method, String path, String operationId) {
        @Override
        public String toString() {
            return method + " " + path + " (" + operationId + ")";
        }
    }

    @Inject
    AgroalDataSource db;

    Fixture a;
    Fixture b;
    String expired;
    String revoked;

    @BeforeEach
    void fixtures() throws Exception {
        a = fixture();
        b = fixture();
        expired = Api.token(a.tenant().id(), "tenant-admin");
        sql("UPDATE api_tokens SET expires_at = ? WHERE token_hash = ?", Instant.now().minusSeconds(60), dev.sluice.token.TokenService.hash(expired));
        revoked = Api.token(a.tenant().id(), "tenant-admin");
        String revokedId = as(a.tenant().admin()).get("/api/v1/tokens").then().extract().<List<Map<String, Object>>>path("items")
                .stream().filter(t -> "tenant-admin".equals(t.get("role"))).map(t -> (String) t.get("id")).reduce((x, y) -> y).orElseThrow();
        as(a.tenant().admin()).delete("/api/v1/tokens/" + revokedId).then().statusCode(204);
    }

    @Test
    void everyOperationIsCoveredByTheMatrix() {
        Set<String> documented = new TreeSet<>();
        endpoints().forEach(e -> documented.add(e.operationId()));
        assertEquals(new TreeSet<>(RULES.keySet()), documented,
                "the OpenAPI operations and the authorization matrix differ: add a rule for every new endpoint");
    }

    @Test
    void missingInvalidExpiredAndRevokedCredentialsGet401() {
        for (Endpoint e : endpoints()) {
            for (String bad : new String[]{null, "slc_not-a-real-token", "garbage token with spaces", expired, revoked, "e30.e30.c2ln"}) {
                Response r = call(e, bad, a, a);
                assertEquals(401, r.statusCode(), e + " with token " + describe(bad) + ": " + r.asString());
                assertTrue(r.contentType().startsWith("application/problem+json"), e + ": " + r.contentType());
                if (!e.method().equals("head")) {
                    assertEquals("https://sluice.dev/problems/unauthenticated", r.path("type"));
                }
            }
        }
    }

    @Test
    void insufficientRolesGet403() {
        for (Endpoint e : endpoints()) {
            Needs needs = RULES.get(e.operationId()).needs();
            for (String weaker : weakerThan(needs, a.tenant())) {
                Response r = call(e, weaker, a, a);
                assertEquals(403, r.statusCode(), e + " needs " + needs + ": " + r.asString());
                if (!e.method().equals("head")) {
                    assertEquals("https://sluice.dev/problems/forbidden", r.path("type"));
                }
            }
        }
    }

    @Test
    void anotherTenantsResourceIsIndistinguishableFromAMissingOne() {
        for (Endpoint e : endpoints()) {
            Needs needs = RULES.get(e.operationId()).needs();
            if (!e.path().contains("{id}") || needs == Needs.PLATFORM_ADMIN) {
                continue; // platform admins see every tenant by design
            }
            Response other = call(e, strongest(needs, a.tenant()), a, b);
            assertEquals(404, other.statusCode(), e + " on tenant B's resource as tenant A: " + other.asString());
            if (!e.method().equals("head")) {
                assertEquals("https://sluice.dev/problems/not-found", other.path("type"));
            }
        }
    }

    @Test
    void theRequiredRoleIsAuthorized() {
        for (Endpoint e : endpoints()) {
            Needs needs = RULES.get(e.operationId()).needs();
            String token = needs == Needs.PLATFORM_ADMIN ? Api.BOOTSTRAP : minimal(needs, a.tenant());
            // DELETE and PATCH carry a stale If-Match so the probe proves access without destroying fixtures.
            Response r = call(e, token, a, a);
            assertEquals(authorizedStatus(e), r.statusCode(), e + " as " + needs + ": " + r.asString());
        }
    }

    @Test
    void aMachineCredentialReachesOnlyItsOwnMachineAndImage() {
        String otherImage = a.tenant().image();
        Fixture otherMachineSameTenant = a.with(otherImage, a.tenant().machine(otherImage));
        for (Endpoint e : endpoints()) {
            if (MACHINE_OWN.contains(e.operationId())) {
                Response own = call(e, a.machineCredential(), a, a);
                assertEquals(authorizedStatus(e), own.statusCode(), e + " with the machine's own credential: " + own.asString());
                for (Fixture other : List.of(otherMachineSameTenant, b)) {
                    Response r = call(e, a.machineCredential(), a, other);
                    assertEquals(404, r.statusCode(), e + " on another machine (" + other.machine() + ") with machine A's credential: " + r.asString());
                    if (!e.method().equals("head")) {
                        assertEquals("https://sluice.dev/problems/not-found", r.path("type"));
                    }
                }
            } else {
                Response r = call(e, a.machineCredential(), a, a);
                assertEquals(403, r.statusCode(), e + " with a machine credential: " + r.asString());
                if (!e.method().equals("head")) {
                    assertEquals("https://sluice.dev/problems/forbidden", r.path("type"));
                }
            }
        }
    }

    private static int authorizedStatus(Endpoint e) {
        Integer override = RULES.get(e.operationId()).authorizedStatus();
        return override != null ? override : switch (e.method()) {
            case "post" -> 201;
            case "delete", "patch" -> 412;
            default -> 200;
        };
    }

    private Response call(Endpoint e, String token, Fixture caller, Fixture owner) {
        String path = (e.path().contains("{id}") ? e.path().replace("{id}", idFor(e.path(), owner)) : e.path())
                .replace("{index}", "0").replace("{operationId}", owner.operation()) + RULES.get(e.operationId()).query();
        var spec = token == null ? given().contentType("application/json") : as(token);
        Object body = RULES.get(e.operationId()).body().apply(caller);
        if (body != null) {
            spec = spec.body(body);
        }
        if (e.method().equals("delete") || e.method().equals("patch")) {
            spec = spec.header("If-Match", "\"424242\"");
        }
        return spec.request(e.method().toUpperCase(), path);
    }

    private static String idFor(String path, Fixture f) {
        if (path.startsWith("/api/v1/tenants/")) {
            return f.tenant().id();
        }
        if (path.startsWith("/api/v1/images/")) {
            return f.image();
        }
        if (path.startsWith("/api/v1/machines/")) {
            return f.machine();
        }
        if (path.startsWith("/api/v1/snapshots/")) {
            return f.snapshot();
        }
        if (path.startsWith("/api/v1/operations/")) {
            return f.operation();
        }
        if (path.startsWith("/api/v1/tokens/")) {
            return f.token();
        }
        throw new AssertionError("no fixture id for " + path + ": extend idFor");
    }

    private static List<String> weakerThan(Needs needs, Api.Tenant t) {
        return switch (needs) {
            case PLATFORM_ADMIN -> List.of(t.admin(), t.member(), t.viewer());
            case TENANT_ADMIN_OR_PLATFORM, TENANT_ADMIN -> List.of(t.member(), t.viewer());
            case TENANT_MEMBER -> List.of(t.viewer(), Api.BOOTSTRAP);
            case TENANT_VIEWER -> List.of(Api.BOOTSTRAP);
        };
    }

    private static String minimal(Needs needs, Api.Tenant t) {
        return switch (needs) {
            case PLATFORM_ADMIN -> Api.BOOTSTRAP;
            case TENANT_ADMIN_OR_PLATFORM, TENANT_ADMIN -> t.admin();
            case TENANT_MEMBER -> t.member();
            case TENANT_VIEWER -> t.viewer();
        };
    }

    private static String strongest(Needs needs, Api.Tenant t) {
        return t.admin();
    }

    private static String describe(String token) {
        return token == null ? "(none)" : token.length() > 12 ? token.substring(0, 8) + "…" : token;
    }

    static List<Endpoint> endpoints() {
        try {
            JsonNode doc = new ObjectMapper().readTree(given().accept("application/json").get("/q/openapi?format=json").asString());
            List<Endpoint> out = new ArrayList<>();
            for (Iterator<Map.Entry<String, JsonNode>> paths = doc.get("paths").fields(); paths.hasNext(); ) {
                var path = paths.next();
                if (!path.getKey().startsWith("/api/")) {
                    continue;
                }
                for (Iterator<Map.Entry<String, JsonNode>> ops = path.getValue().fields(); ops.hasNext(); ) {
                    var op = ops.next();
                    if (Set.of("get", "post", "put", "patch", "delete", "head").contains(op.getKey())) {
                        out.add(new Endpoint(op.getKey(), path.getKey(), op.getValue().path("operationId").asText()));
                    }
                }
            }
            assertTrue(out.size() >= 20, "expected the whole API in the OpenAPI document, got " + out);
            return out;
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }

    private Fixture fixture() throws Exception {
        Api.Tenant t = Api.Tenant.create();
        String image = t.image();
        given().header("Authorization", "Bearer " + t.member()).contentType("application/octet-stream")
                .body(new byte[1 << 20]).put("/api/v1/images/" + image + "/content").then().statusCode(200);
        String machine = t.machine(image);
        String snapshot = dev.sluice.platform.api.ResourceId.SNAPSHOT.next();
        String operation = dev.sluice.platform.api.ResourceId.OPERATION.next();
        Instant now = Instant.now();
        sql("INSERT INTO operations (id, tenant_id, kind, target_id, done, created_at, updated_at, version) VALUES (?, ?, 'snapshot', ?, false, ?, ?, 0)",
                operation, t.id(), machine, now, now);
        sql("INSERT INTO snapshots (id, tenant_id, name, machine_id, operation_id, state, created_at, updated_at, version) VALUES (?, ?, ?, ?, ?, 'PENDING', ?, ?, 0)",
                snapshot, t.id(), Api.unique("s"), machine, operation, now, now);
        String token = as(t.admin()).get("/api/v1/tokens").then().statusCode(200).extract().path("items[0].id");
        String machineCredential = as(t.member()).body(Map.of()).post("/api/v1/machines/" + machine + "/credentials")
                .then().statusCode(201).extract().path("secret");
        Api.SECRETS.add(machineCredential);
        return new Fixture(t, image, machine, snapshot, operation, token, machineCredential);
    }

    private void sql(String statement, Object... args) throws Exception {
        try (Connection c = db.getConnection(); PreparedStatement ps = c.prepareStatement(statement)) {
            for (int i = 0; i < args.length; i++) {
                Object v = args[i] instanceof Instant instant ? java.sql.Timestamp.from(instant) : args[i];
                ps.setObject(i + 1, v);
            }
            ps.executeUpdate();
        }
    }
}

package dev.sluice.machine;

import static dev.sluice.api.Api.as;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.notNullValue;
import static org.hamcrest.Matchers.nullValue;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import dev.sluice.api.Api;
import io.quarkus.test.junit.QuarkusTest;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The machine endpoints an agent uses: machine credentials and hydration reports. */
@QuarkusTest
class MachineAgentApiTest {
    Api.Tenant tenant;
    String image;
    String machine;

    @BeforeEach
    void setUp() {
        tenant = Api.Tenant.create();
        // 1 MiB + 1 byte at 64 KiB blocks: 17 blocks, the last one short.
        image = as(tenant.member()).body(Map.of("name", Api.unique("img"), "sizeBytes", (1 << 20) + 512)).post("/api/v1/images")
                .then().statusCode(201).extract().path("id");
        machine = tenant.machine(image);
    }

    private String credential() {
        String secret = as(tenant.member()).body(Map.of()).post("/api/v1/machines/" + machine + "/credentials")
                .then().statusCode(201).extract().path("secret");
        Api.SECRETS.add(secret);
        return secret;
    }

    private static Map<String, Object> report(long present, long total, String state) {
        Map<String, Object> r = new HashMap<>(Map.of("presentBlocks", present, "totalBlocks", total, "dirtyBlocks", 0,
                "bytesFetched", present * 65536, "fetchRateBytesPerSecond", 65536, "state", state));
        return r;
    }

    @Test
    void aMachineCredentialIsAMachineRoleTokenBoundToTheMachineAndListedWithTheTenantsTokens() {
        var created = as(tenant.member()).body(Map.of("name", "rack-7")).post("/api/v1/machines/" + machine + "/credentials")
                .then().statusCode(201)
                .header("Location", notNullValue())
                .body("role", equalTo("machine")).body("machineId", equalTo(machine)).body("name", equalTo("rack-7"))
                .body("secret", notNullValue()).extract();
        Api.SECRETS.add(created.path("secret"));
        as(tenant.admin()).get("/api/v1/tokens/" + created.path("id")).then().statusCode(200)
                .body("machineId", equalTo(machine)).body("secret", nullValue());
        // Without a body the name defaults to one derived from the machine id.
        String defaulted = as(tenant.member()).post("/api/v1/machines/" + machine + "/credentials").then().statusCode(201)
                .extract().path("name");
        assertNotNull(defaulted);
        as(created.path("secret")).get("/api/v1/machines/" + machine).then().statusCode(200)
                .body("image.blockSize", equalTo(65536)).body("state", equalTo("registered")).body("hydration", nullValue());
    }

    @Test
    void anIdempotentRetryOfCredentialCreationReplaysWithoutTheSecret() {
        String key = Api.unique("key");
        var first = as(tenant.member()).header("Idempotency-Key", key).body(Map.of("name", "a"))
                .post("/api/v1/machines/" + machine + "/credentials").then().statusCode(201).extract();
        Api.SECRETS.add(first.path("secret"));
        as(tenant.member()).header("Idempotency-Key", key).body(Map.of("name", "a"))
                .post("/api/v1/machines/" + machine + "/credentials").then().statusCode(201)
                .header("Idempotent-Replayed", "true").body("id", equalTo(first.path("id"))).body("secret", nullValue());
        as(tenant.member()).header("Idempotency-Key", key).body(Map.of("name", "b"))
                .post("/api/v1/machines/" + machine + "/credentials").then().statusCode(422);
    }

    @Test
    void theFirstReportMakesTheMachineRunningAndTheViewShowsHydrationWithAnEta() {
        String cred = credential();
        as(cred).body(report(5, 17, "streaming")).put("/api/v1/machines/" + machine + "/hydration").then().statusCode(200)
                .body("state", equalTo("running")).body("hydration.state", equalTo("streaming"))
                .body("hydration.presentBlocks", equalTo(5)).body("hydration.totalBlocks", equalTo(17));
        as(tenant.viewer()).get("/api/v1/machines/" + machine).then().statusCode(200)
                .body("state", equalTo("running"))
                .body("hydration.bytesFetched", equalTo(5 * 65536))
                .body("hydration.etaSeconds", equalTo(12)) // 12 blocks of 64 KiB at 64 KiB/s
                .body("hydration.updatedAt", notNullValue());
        as(cred).body(report(17, 17, "hydrated")).put("/api/v1/machines/" + machine + "/hydration").then().statusCode(200)
                .body("hydration.state", equalTo("hydrated")).body("hydration.etaSeconds", equalTo(0));
        // A tenant-member may report too (e.g. a hypervisor-side tool).
        as(tenant.member()).body(report(17, 17, "hydrated")).put("/api/v1/machines/" + machine + "/hydration").then().statusCode(200);
    }

    @Test
    void reportsThatContradictTheImageOrThemselvesAre422() {
        String cred = credential();
        String path = "/api/v1/machines/" + machine + "/hydration";
        Map<String, Map<String, Object>> bad = Map.of(
                "totalBlocks", report(1, 16, "streaming"),
                "presentBlocks", report(18, 17, "streaming"),
                "state", report(16, 17, "hydrated"));
        bad.forEach((field, body) -> as(cred).body(body).put(path).then().statusCode(422)
                .body("type", equalTo("https://sluice.dev/problems/validation")).body("errors[0].field", equalTo(field)));
        Map<String, Object> negative = report(1, 17, "streaming");
        negative.put("bytesFetched", -1);
        as(cred).body(negative).put(path).then().statusCode(422);
        Map<String, Object> badState = report(1, 17, "done");
        as(cred).body(badState).put(path).then().statusCode(422);
        Map<String, Object> missing = report(1, 17, "streaming");
        missing.remove("dirtyBlocks");
        as(cred).body(missing).put(path).then().statusCode(422);
        as(tenant.viewer()).get("/api/v1/machines/" + machine).then().body("hydration", nullValue()).body("state", equalTo("registered"));
    }

    @Test
    void aMachineCredentialCannotReachAnotherMachineOrTheTenantsCollections() {
        String cred = credential();
        String other = tenant.machine(image);
        as(cred).get("/api/v1/machines/" + other).then().statusCode(404);
        as(cred).body(report(1, 17, "streaming")).put("/api/v1/machines/" + other + "/hydration").then().statusCode(404);
        as(cred).get("/api/v1/machines").then().statusCode(403);
        as(cred).get("/api/v1/images/" + image).then().statusCode(403);
        as(cred).body(Map.of()).post("/api/v1/machines/" + machine + "/credentials").then().statusCode(403);
        // A revoked machine credential stops working at once.
        String id = as(tenant.admin()).get("/api/v1/tokens?pageSize=200").then().extract().<java.util.List<Map<String, Object>>>path("items")
                .stream().filter(t -> machine.equals(t.get("machineId"))).map(t -> (String) t.get("id")).findFirst().orElseThrow();
        String etag = as(tenant.admin()).get("/api/v1/tokens/" + id).then().extract().header("ETag");
        as(tenant.admin()).header("If-Match", etag).delete("/api/v1/tokens/" + id).then().statusCode(204);
        assertEquals(401, given().header("Authorization", "Bearer " + cred).get("/api/v1/machines/" + machine).statusCode());
    }
}

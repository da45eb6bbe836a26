package dev.sluice.api;

import static dev.sluice.api.Api.as;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.agroal.api.AgroalDataSource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Bad input is answered with 400/422 problem+json naming the offending field, and nothing is persisted
 * (counted in the database before and after).
 */
@QuarkusTest
class BadInputTest {
    private static final String LONG = "x".repeat(5000);

    @Inject
    AgroalDataSource db;

    Api.Tenant tenant;
    String image;
    String machine;

    @BeforeEach
    void setUp() {
        tenant = Api.Tenant.create();
        image = tenant.image();
        machine = tenant.machine(image);
    }

    static Stream<Arguments> badImages() {
        return Stream.of(
                Arguments.of("malformed JSON", "{\"name\":\"a\",\"sizeBytes\":", 400, null),
                Arguments.of("not an object", "[1,2,3]", 400, null),
                Arguments.of("empty body", "", 422, "body"),
                Arguments.of("unknown field", "{\"name\":\"a\",\"sizeBytes\":4096,\"tenantId\":\"ten_x\"}", 400, "tenantId"),
                Arguments.of("wrong type", "{\"name\":\"a\",\"sizeBytes\":\"big\"}", 400, "sizeBytes"),
                Arguments.of("wrong type name", "{\"name\":5,\"sizeBytes\":4096}", 400, "name"),
                Arguments.of("string for integer", "{\"name\":\"a\",\"sizeBytes\":\"4096\"}", 400, "sizeBytes"),
                Arguments.of("fraction for integer", "{\"name\":\"a\",\"sizeBytes\":4096.5}", 400, "sizeBytes"),
                Arguments.of("duplicate key", "{\"name\":\"a\",\"name\":\"b\",\"sizeBytes\":4096}", 400, null),
                Arguments.of("wrong type labels", "{\"name\":\"a\",\"sizeBytes\":4096,\"labels\":[1]}", 400, "labels"),
                Arguments.of("missing name", "{\"sizeBytes\":4096}", 422, "name"),
                Arguments.of("missing size", "{\"name\":\"a\"}", 422, "sizeBytes"),
                Arguments.of("oversize name", "{\"name\":\"" + "a".repeat(64) + "\",\"sizeBytes\":4096}", 422, "name"),
                Arguments.of("bad name chars", "{\"name\":\"Not_A_Name\",\"sizeBytes\":4096}", 422, "name"),
                Arguments.of("oversize description", "{\"name\":\"a\",\"sizeBytes\":4096,\"description\":\"" + LONG + "\"}", 422, "description"),
                Arguments.of("negative size", "{\"name\":\"a\",\"sizeBytes\":-4096}", 422, "sizeBytes"),
                Arguments.of("zero size", "{\"name\":\"a\",\"sizeBytes\":0}", 422, "sizeBytes"),
                Arguments.of("huge size", "{\"name\":\"a\",\"sizeBytes\":9223372036854775807}", 422, "sizeBytes"),
                Arguments.of("size beyond long", "{\"name\":\"a\",\"sizeBytes\":92233720368547758070}", 400, "sizeBytes"),
                Arguments.of("size not sector multiple", "{\"name\":\"a\",\"sizeBytes\":1000}", 422, "sizeBytes"),
                Arguments.of("block size not power of two", "{\"name\":\"a\",\"sizeBytes\":4096,\"blockSize\":65535}", 422, "blockSize"),
                Arguments.of("block size too small", "{\"name\":\"a\",\"sizeBytes\":4096,\"blockSize\":2048}", 422, "blockSize"),
                Arguments.of("block size too large", "{\"name\":\"a\",\"sizeBytes\":4096,\"blockSize\":8388608}", 422, "blockSize"),
                Arguments.of("bad label key", "{\"name\":\"a\",\"sizeBytes\":4096,\"labels\":{\"Bad Key\":\"v\"}}", 422, "labels.Bad Key"),
                Arguments.of("oversize label value", "{\"name\":\"a\",\"sizeBytes\":4096,\"labels\":{\"k\":\"" + LONG + "\"}}", 422, "labels.k"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badImages")
    void badImageCreatesAreRejectedAndPersistNothing(String why, String body, int status, String field) throws Exception {
        long before = count("images");
        Response r = as(tenant.member()).body(body).post("/api/v1/images");
        assertProblem(r, status, field);
        assertEquals(before, count("images"), why + " persisted an image");
    }

    static Stream<Arguments> badMachines() {
        return Stream.of(
                Arguments.of("missing image", "{\"name\":\"m1\"}", 422, "imageId"),
                Arguments.of("malformed image id", "{\"name\":\"m1\",\"imageId\":\"img_../../etc\"}", 422, "imageId"),
                Arguments.of("unknown image", "{\"name\":\"m1\",\"imageId\":\"img_00000000000000000000000000\"}", 422, "imageId"),
                Arguments.of("bad mac", "{\"name\":\"m1\",\"imageId\":\"IMG\",\"mac\":\"52:54:00:zz:00:01\"}", 422, "mac"),
                Arguments.of("unknown field", "{\"name\":\"m1\",\"imageId\":\"IMG\",\"state\":\"running\"}", 400, "state"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badMachines")
    void badMachineCreatesAreRejectedAndPersistNothing(String why, String body, int status, String field) throws Exception {
        long before = count("machines");
        Response r = as(tenant.member()).body(body.replace("IMG", image)).post("/api/v1/machines");
        assertProblem(r, status, field);
        assertEquals(before, count("machines"), why + " persisted a machine");
    }

    @Test
    void badPatchesChangeNothing() throws Exception {
        String before = as(tenant.viewer()).get("/api/v1/images/" + image).asString();
        for (String[] c : List.of(
                new String[]{"{\"sizeBytes\":1}", "400", "sizeBytes"},
                new String[]{"{\"name\":\"other\"}", "400", "name"},
                new String[]{"{\"description\":5}", "400", "description"},
                new String[]{"{\"description\":\"" + LONG + "\"}", "422", "description"},
                new String[]{"{\"labels\":{\"k\":7}}", "400", "labels.k"},
                new String[]{"{\"labels\":\"x\"}", "400", "labels"},
                new String[]{"[]", "400", null},
                new String[]{"{\"description\":\"ok\",\"labels\":{\"BAD\":\"v\"}}", "422", "labels.BAD"})) {
            Response r = as(tenant.member()).contentType("application/merge-patch+json").body(c[0]).patch("/api/v1/images/" + image);
            assertProblem(r, Integer.parseInt(c[1]), c[2]);
        }
        assertEquals(before, as(tenant.viewer()).get("/api/v1/images/" + image).asString(), "a rejected patch changed the image");
        Response r = as(tenant.member()).contentType("application/merge-patch+json").body("{\"imageId\":\"img_00000000000000000000000000\"}")
                .patch("/api/v1/machines/" + machine);
        assertProblem(r, 422, "imageId");
    }

    @Test
    void badParametersAreNamed() {
        assertProblem(as(tenant.viewer()).get("/api/v1/images?pageSize=201"), 400, "pageSize");
        assertProblem(as(tenant.viewer()).get("/api/v1/images?pageSize=0"), 400, "pageSize");
        assertProblem(as(tenant.viewer()).get("/api/v1/images?pageSize=ten"), 400, "pageSize");
        assertProblem(as(tenant.viewer()).get("/api/v1/images?pageToken=bogus!"), 400, "pageToken");
        assertProblem(as(tenant.viewer()).get("/api/v1/images?pageToken=" + dev.sluice.platform.api.PageRequest.tokenAfter(dev.sluice.platform.api.ResourceId.MACHINE, machine)), 400, "pageToken");
        assertProblem(as(tenant.viewer()).get("/api/v1/images/not-an-id"), 400, "id");
        assertProblem(as(tenant.viewer()).get("/api/v1/machines/" + image), 400, "id");
        assertProblem(as(tenant.viewer()).get("/api/v1/snapshots?machineId=x"), 400, "machineId");
        assertProblem(as(tenant.member()).header("Idempotency-Key", "k".repeat(256)).body("{\"name\":\"a\",\"sizeBytes\":4096}").post("/api/v1/images"), 400, "Idempotency-Key");
    }

    @Test
    void unknownPathsWrongMethodsAndMediaTypesAreProblems() {
        assertProblem(as(tenant.viewer()).get("/api/v1/nothing-here"), 404, null);
        assertProblem(as(tenant.member()).put("/api/v1/images/" + image), 405, null);
        assertProblem(as(tenant.member()).contentType("text/plain").body("name=a").post("/api/v1/images"), 415, null);
    }

    static void assertProblem(Response r, int status, String field) {
        Api.assertProblem(r, status, field);
    }

    private long count(String table) throws Exception {
        try (Connection c = db.getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM " + table + " WHERE tenant_id = ?")) {
            ps.setString(1, tenant.id());
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }
}

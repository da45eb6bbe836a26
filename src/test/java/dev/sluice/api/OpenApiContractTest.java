package dev.sluice.api;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.quarkus.test.junit.QuarkusTest;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The served OpenAPI document must equal the committed {@code openapi/openapi.json}: clients are generated
 * from the committed file, so an API change must show up in review as a change to it.
 */
@QuarkusTest
class OpenApiContractTest {
    @Test
    void servedSpecMatchesTheCommittedSpec() throws Exception {
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);
        JsonNode served = json.readTree(given().accept("application/json").get("/q/openapi?format=json").asString());
        Path committed = Path.of("openapi/openapi.json");
        Path actual = Path.of("target/openapi-served.json");
        Files.writeString(actual, json.writeValueAsString(json.treeToValue(served, Object.class)) + "\n");
        if (!Files.exists(committed)) {
            fail("openapi/openapi.json is missing; review and commit it: cp " + actual + " " + committed);
        }
        JsonNode expected = json.readTree(committed.toFile());
        if (!expected.equals(served)) {
            fail("the served OpenAPI document differs from openapi/openapi.json; if the change is intended: cp " + actual + " " + committed);
        }
    }
}

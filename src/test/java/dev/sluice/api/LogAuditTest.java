package dev.sluice.api;

import static dev.sluice.api.Api.as;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.junit.QuarkusTest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

/**
 * Runs after every other test class (see junit-platform.properties) and audits the log they produced
 * (target/quarkus-test.log, DEBUG for Sluice, access log on): no token secret ever appears in it, and Vert.x
 * never reported a blocked event loop — the block data plane must not do blocking I/O there.
 */
@QuarkusTest
@Order(Integer.MAX_VALUE)
class LogAuditTest {
    static final Path LOG = Path.of("target/quarkus-test.log");

    @Test
    void noSecretEverAppearsInTheLogs() throws Exception {
        // Exercise the paths that handle secrets here too, so the audit means something when run alone.
        Api.Tenant tenant = Api.Tenant.create();
        as(tenant.viewer()).get("/api/v1/images").then().statusCode(200);
        as(tenant.viewer() + "x").get("/api/v1/images").then().statusCode(401);
        as(tenant.member()).body("{\"name\":").post("/api/v1/images").then().statusCode(400);
        as(tenant.viewer()).get("/api/v1/images/" + tenant.image() + "/disk").then().statusCode(409);
        assertTrue(Files.exists(LOG), "the test profile logs to " + LOG);
        String text = Files.readString(LOG);
        assertTrue(text.contains("/api/v1/images"), "the access log is on, so requests are in the log");
        for (String secret : Api.SECRETS) {
            assertFalse(text.contains(secret), "a token secret appears in the log");
            assertFalse(text.contains(secret.substring(0, Math.min(secret.length(), 24))), "a token prefix appears in the log");
        }
    }

    @Test
    void theEventLoopWasNeverBlocked() throws Exception {
        List<String> blocked = Files.readAllLines(LOG).stream()
                .filter(l -> l.contains("has been blocked for") && l.contains("eventloop")).toList();
        assertTrue(blocked.isEmpty(), "Vert.x reported a blocked event loop:\n" + String.join("\n", blocked));
    }
}

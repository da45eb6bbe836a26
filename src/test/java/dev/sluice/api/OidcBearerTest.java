package dev.sluice.api;

import static dev.sluice.api.Api.as;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.quarkus.test.junit.QuarkusTest;
import io.smallrye.jwt.build.Jwt;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * OIDC access tokens, verified against a locally held signing key (the test profile configures its public
 * half): tenant from the {@code tenant} claim, roles from {@code realm_access.roles}, as Keycloak issues them.
 */
@QuarkusTest
class OidcBearerTest {
    static final String ISSUER = "https://issuer.sluice.test";

    @Test
    void aValidTokenActsInItsTenantWithItsRealmRoles() {
        Api.Tenant tenant = Api.Tenant.create();
        String tenantName = as(Api.BOOTSTRAP).get("/api/v1/tenants/" + tenant.id()).path("name");
        String member = jwt(ISSUER, tenantName, List.of("tenant-member", "offline_access"), Instant.now().plusSeconds(300));
        String image = as(member).body(Map.of("name", Api.unique("oidc"), "sizeBytes", 4096)).post("/api/v1/images").then().statusCode(201).extract().path("id");
        // The image is in the claimed tenant: its API-token viewer sees it.
        assertEquals(200, as(tenant.viewer()).get("/api/v1/images/" + image).statusCode());
        // Tenant by id works too; a viewer role cannot write; a tenant role cannot manage tenants.
        String viewer = jwt(ISSUER, tenant.id(), List.of("tenant-viewer"), Instant.now().plusSeconds(300));
        assertEquals(200, as(viewer).get("/api/v1/images/" + image).statusCode());
        assertEquals(403, as(viewer).body(Map.of("name", Api.unique("x"), "sizeBytes", 4096)).post("/api/v1/images").statusCode());
        assertEquals(403, as(member).get("/api/v1/tenants").statusCode());
        // Another tenant's image stays invisible.
        Api.Tenant other = Api.Tenant.create();
        assertEquals(404, as(member).get("/api/v1/images/" + other.image()).statusCode());
    }

    @Test
    void aPlatformAdminTokenManagesTenants() {
        String admin = jwt(ISSUER, null, List.of("platform-admin"), Instant.now().plusSeconds(300));
        assertEquals(200, as(admin).get("/api/v1/tenants").statusCode());
        assertEquals(403, as(admin).get("/api/v1/images").statusCode());
    }

    @Test
    void forgedExpiredForeignAndTenantlessTokensAre401() {
        Api.Tenant tenant = Api.Tenant.create();
        String good = jwt(ISSUER, tenant.id(), List.of("tenant-viewer"), Instant.now().plusSeconds(300));
        String[] parts = good.split("\\.");
        String tampered = parts[0] + "." + Base64.getUrlEncoder().withoutPadding().encodeToString(
                new String(Base64.getUrlDecoder().decode(parts[1]), StandardCharsets.UTF_8).replace("tenant-viewer", "tenant-admin").getBytes(StandardCharsets.UTF_8)) + "." + parts[2];
        for (String bad : List.of(
                tampered,
                jwt(ISSUER, tenant.id(), List.of("tenant-viewer"), Instant.now().minusSeconds(600)),
                jwt("https://evil.example", tenant.id(), List.of("tenant-viewer"), Instant.now().plusSeconds(300)),
                jwt(ISSUER, "no-such-tenant", List.of("tenant-viewer"), Instant.now().plusSeconds(300)),
                jwt(ISSUER, null, List.of("tenant-viewer"), Instant.now().plusSeconds(300)))) {
            BadInputTest.assertProblem(as(bad).get("/api/v1/images"), 401, null);
        }
    }

    static String jwt(String issuer, String tenant, List<String> roles, Instant expiresAt) {
        var builder = Jwt.issuer(issuer).subject("user-" + System.nanoTime()).claim("realm_access", Map.of("roles", roles))
                .issuedAt(expiresAt.minusSeconds(600)).expiresAt(expiresAt);
        if (tenant != null) {
            builder = builder.claim("tenant", tenant);
        }
        return builder.sign(signingKey());
    }

    private static PrivateKey signingKey() {
        try (InputStream in = OidcBearerTest.class.getResourceAsStream("/oidc/test-signing-key.pem")) {
            String pem = new String(in.readAllBytes(), StandardCharsets.US_ASCII).replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
            return KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(pem)));
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}

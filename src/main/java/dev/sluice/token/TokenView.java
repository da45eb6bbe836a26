package dev.sluice.token;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.time.Instant;

/** A token as clients see it: never its secret or hash. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record TokenView(String id, String name, String role, String tenantId, String machineId, String state,
                        Instant expiresAt, Instant revokedAt, Instant createdAt) {

    static TokenView of(ApiToken t) {
        Instant now = Instant.now();
        String state = t.revokedAt != null ? "revoked" : (t.expiresAt != null && !t.expiresAt.isAfter(now)) ? "expired" : "active";
        return new TokenView(t.id, t.name, t.role, t.tenantId, t.machineId, state, t.expiresAt, t.revokedAt, t.createdAt);
    }
}

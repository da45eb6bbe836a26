package dev.sluice.tenant;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.time.Instant;

@JsonInclude(JsonInclude.Include.NON_NULL)
public record TenantView(String id, String name, String displayName, Instant createdAt, Instant updatedAt) {
    static TenantView of(Tenant t) {
        return new TenantView(t.id, t.name, t.displayName, t.createdAt, t.updatedAt);
    }
}

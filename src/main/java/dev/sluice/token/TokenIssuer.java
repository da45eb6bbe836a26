package dev.sluice.token;

import dev.sluice.platform.problem.ApiException;
import dev.sluice.platform.problem.ProblemType;
import dev.sluice.platform.security.Role;
import dev.sluice.tenant.TenantService;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.ws.rs.core.HttpHeaders;
import java.net.URI;
import org.jboss.resteasy.reactive.RestResponse;

/**
 * Decides which roles a caller may grant: tenant tokens carry tenant roles only (a tenant-admin can never mint
 * a platform-admin), platform tokens carry platform-admin only.
 */
@ApplicationScoped
public class TokenIssuer {
    @Inject
    TokenService tokens;
    @Inject
    TenantService tenants;

    public RestResponse<CreatedToken> issueForTenant(String tenantId, CreateTokenRequest request) {
        if (!tenants.exists(tenantId)) {
            throw ApiException.notFound("tenant " + tenantId);
        }
        Role role = Role.fromWire(request.role()).filter(Role::isTenantRole)
                .orElseThrow(() -> ApiException.field(ProblemType.VALIDATION, "role", "a tenant token's role must be tenant-admin, tenant-member or tenant-viewer"));
        return created(tokens.issue(tenantId, request.name(), role, request.expiresAt(), null));
    }

    public RestResponse<CreatedToken> issueForPlatform(CreateTokenRequest request) {
        Role role = Role.fromWire(request.role()).filter(r -> r == Role.PLATFORM_ADMIN)
                .orElseThrow(() -> ApiException.field(ProblemType.VALIDATION, "role", "a platform token's role must be platform-admin"));
        return created(tokens.issue(null, request.name(), role, request.expiresAt(), null));
    }

    /**
     * A machine credential: role machine, bound to {@code machineId} (which the caller has checked exists in
     * {@code tenantId}). It may read that machine, the blocks of its image, and report its hydration.
     */
    public RestResponse<CreatedToken> issueForMachine(String tenantId, String machineId, String name, java.time.Instant expiresAt) {
        return created(tokens.issue(tenantId, name == null ? "machine-" + machineId.toLowerCase(java.util.Locale.ROOT).replace('_', '-') : name,
                Role.MACHINE, expiresAt, machineId));
    }

    private static RestResponse<CreatedToken> created(TokenService.Issued issued) {
        return RestResponse.ResponseBuilder.<CreatedToken>created(URI.create("/api/v1/tokens/" + issued.token().id))
                .entity(new CreatedToken(TokenView.of(issued.token()), issued.secret()))
                .header(HttpHeaders.ETAG, dev.sluice.platform.api.EntityTag.of(issued.token().version))
                .build();
    }
}

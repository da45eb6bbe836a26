package dev.sluice.platform.security;

import dev.sluice.platform.problem.ApiException;
import dev.sluice.platform.problem.ProblemType;
import io.quarkus.security.identity.SecurityIdentity;
import io.quarkus.vertx.http.runtime.security.QuarkusHttpUser;
import io.smallrye.mutiny.Uni;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * Authentication for plain Vert.x routes: resolves the same (lazy) identity the REST resources get, through the
 * same mechanisms (API tokens, OIDC), and checks a role without blocking the event loop.
 */
@ApplicationScoped
public class RouteAuth {

    /** Who is calling: tenant (null for platform tokens), machine (machine credentials only), role grants. */
    public record RouteCaller(String tenantId, String machineId, SecurityIdentity identity) {
        public boolean has(String role) {
            return identity.hasRole(role);
        }
    }

    public Uni<RouteCaller> require(RoutingContext rc, String... anyOfRoles) {
        Uni<SecurityIdentity> deferred = rc.get(QuarkusHttpUser.DEFERRED_IDENTITY_KEY);
        if (deferred == null) {
            return Uni.createFrom().failure(new ApiException(ProblemType.UNAUTHENTICATED, "a valid bearer token is required"));
        }
        return deferred.onItem().transform(identity -> {
            if (identity == null || identity.isAnonymous()) {
                throw new ApiException(ProblemType.UNAUTHENTICATED, "a valid bearer token is required");
            }
            for (String role : anyOfRoles) {
                if (identity.hasRole(role)) {
                    return new RouteCaller(identity.getAttribute(Caller.ATTR_TENANT), identity.getAttribute(Caller.ATTR_MACHINE), identity);
                }
            }
            throw new ApiException(ProblemType.FORBIDDEN, "the credential's role does not allow this operation");
        });
    }
}

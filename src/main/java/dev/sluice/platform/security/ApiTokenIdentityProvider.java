package dev.sluice.platform.security;

import dev.sluice.token.TokenService;
import io.quarkus.security.AuthenticationFailedException;
import io.quarkus.security.identity.AuthenticationRequestContext;
import io.quarkus.security.identity.IdentityProvider;
import io.quarkus.security.identity.SecurityIdentity;
import io.quarkus.security.runtime.QuarkusPrincipal;
import io.quarkus.security.runtime.QuarkusSecurityIdentity;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

/**
 * Turns an API token into an identity: principal = token id, roles = the token role's grants, attributes =
 * tenant and (for machine credentials) machine. The lookup is a blocking database read, so it runs on a
 * worker thread. Failures never say why (unknown, expired and revoked look alike) and never log the secret.
 */
@ApplicationScoped
public class ApiTokenIdentityProvider implements IdentityProvider<ApiTokenCredential> {
    @Inject
    TokenService tokens;

    @Override
    public Class<ApiTokenCredential> getRequestType() {
        return ApiTokenCredential.class;
    }

    @Override
    public Uni<SecurityIdentity> authenticate(ApiTokenCredential request, AuthenticationRequestContext context) {
        return context.runBlocking(() -> {
            TokenService.Grant grant = tokens.verify(request.secret())
                    .orElseThrow(() -> new AuthenticationFailedException("invalid bearer token"));
            QuarkusSecurityIdentity.Builder b = QuarkusSecurityIdentity.builder()
                    .setPrincipal(new QuarkusPrincipal(grant.tokenId()))
                    .addRoles(grant.role().grants())
                    .addAttribute(Caller.ATTR_ROLE, grant.role().wireName());
            if (grant.tenantId() != null) {
                b.addAttribute(Caller.ATTR_TENANT, grant.tenantId());
            }
            if (grant.machineId() != null) {
                b.addAttribute(Caller.ATTR_MACHINE, grant.machineId());
            }
            return b.build();
        });
    }
}

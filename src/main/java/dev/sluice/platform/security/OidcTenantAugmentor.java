package dev.sluice.platform.security;

import dev.sluice.tenant.TenantService;
import io.quarkus.security.AuthenticationFailedException;
import io.quarkus.security.identity.AuthenticationRequestContext;
import io.quarkus.security.identity.SecurityIdentity;
import io.quarkus.security.identity.SecurityIdentityAugmentor;
import io.quarkus.security.runtime.QuarkusSecurityIdentity;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.eclipse.microprofile.jwt.JsonWebToken;

/**
 * Maps a verified OIDC access token onto Sluice's model: the tenant from a configurable claim (default
 * {@code tenant}; its value is a tenant id or name, and the tenant must exist), and only the Sluice roles
 * among the token's roles, expanded by {@link Role#grants()}. API-token identities pass through untouched.
 */
@ApplicationScoped
public class OidcTenantAugmentor implements SecurityIdentityAugmentor {
    @ConfigProperty(name = "sluice.oidc.tenant-claim", defaultValue = "tenant")
    String tenantClaim;

    @Inject
    TenantService tenants;

    @Override
    public Uni<SecurityIdentity> augment(SecurityIdentity identity, AuthenticationRequestContext context) {
        if (identity.isAnonymous() || !(identity.getPrincipal() instanceof JsonWebToken jwt)) {
            return Uni.createFrom().item(identity);
        }
        return context.runBlocking(() -> {
            QuarkusSecurityIdentity.Builder b = QuarkusSecurityIdentity.builder()
                    .setPrincipal(jwt)
                    .addCredentials(identity.getCredentials())
                    .addAttributes(identity.getAttributes());
            Role strongest = null;
            for (String name : identity.getRoles()) {
                Role role = Role.fromWire(name).orElse(null);
                if (role == null || role == Role.MACHINE) {
                    continue;
                }
                b.addRoles(role.grants());
                if (strongest == null || role.ordinal() < strongest.ordinal()) {
                    strongest = role;
                }
            }
            Object claim = jwt.getClaim(tenantClaim);
            if (claim != null) {
                String tenantId = tenants.resolveIdOrName(claim.toString().replace("\"", ""))
                        .orElseThrow(() -> new AuthenticationFailedException("token names an unknown tenant"));
                b.addAttribute(Caller.ATTR_TENANT, tenantId);
            } else if (strongest != null && strongest.isTenantRole()) {
                throw new AuthenticationFailedException("token has a tenant role but no tenant claim");
            }
            if (strongest != null) {
                b.addAttribute(Caller.ATTR_ROLE, strongest.wireName());
            }
            return b.build();
        });
    }
}

package dev.sluice.token;

import dev.sluice.platform.api.Idempotency;
import dev.sluice.platform.api.Page;
import dev.sluice.platform.api.PageRequest;
import dev.sluice.platform.api.ResourceId;
import dev.sluice.platform.security.Caller;
import dev.sluice.platform.security.Role;
import jakarta.annotation.security.RolesAllowed;
import jakarta.inject.Inject;
import jakarta.validation.Valid;
import jakarta.validation.constraints.NotNull;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.jboss.resteasy.reactive.RestResponse;

/**
 * The caller's own token collection: a tenant-admin manages its tenant's tokens, a platform-admin the
 * platform tokens. Secrets appear only in the create response.
 */
@Path("/api/v1/tokens")
@Produces(MediaType.APPLICATION_JSON)
@Consumes(MediaType.APPLICATION_JSON)
@RolesAllowed({Role.Names.TENANT_ADMIN, Role.Names.PLATFORM_ADMIN})
@Tag(name = "tokens")
public class TokenResource {
    @Inject
    TokenService tokens;
    @Inject
    TokenIssuer issuer;
    @Inject
    Caller caller;
    @Inject
    Idempotency idempotency;

    @POST
    @Operation(summary = "Create a token; the response carries its secret, shown this once")
    public RestResponse<CreatedToken> createToken(@Valid @NotNull CreateTokenRequest body,
                                                  @HeaderParam(Idempotency.HEADER) String idempotencyKey) {
        return idempotency.run(idempotencyKey, "POST /api/v1/tokens", body, () -> caller.isPlatformAdmin()
                ? issuer.issueForPlatform(body)
                : issuer.issueForTenant(caller.tenantId(), body));
    }

    @GET
    @Operation(summary = "List tokens (never their secrets)")
    public Page<TokenView> listTokens(@QueryParam("pageSize") String pageSize, @QueryParam("pageToken") String pageToken) {
        return tokens.list(scopeTenant(), PageRequest.of(pageSize, pageToken, ResourceId.TOKEN));
    }

    @GET
    @Path("{id}")
    @Operation(summary = "Get a token (never its secret)")
    public RestResponse<TokenView> getToken(@PathParam("id") String id) {
        return tokens.get(scopeTenant(), ResourceId.TOKEN.require("id", id)).ok();
    }

    @DELETE
    @Path("{id}")
    @Operation(summary = "Revoke a token; effective immediately")
    public RestResponse<Void> revokeToken(@PathParam("id") String id, @HeaderParam("If-Match") String ifMatch) {
        tokens.revoke(scopeTenant(), ResourceId.TOKEN.require("id", id), ifMatch);
        return RestResponse.noContent();
    }

    private String scopeTenant() {
        return caller.isPlatformAdmin() ? null : caller.tenantId();
    }
}

package dev.sluice.tenant;

import dev.sluice.platform.api.Idempotency;
import dev.sluice.platform.api.Page;
import dev.sluice.platform.api.PageRequest;
import dev.sluice.platform.api.ResourceId;
import dev.sluice.platform.security.Role;
import dev.sluice.token.CreateTokenRequest;
import dev.sluice.token.CreatedToken;
import dev.sluice.token.TokenIssuer;
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
import java.net.URI;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.jboss.resteasy.reactive.RestResponse;

@Path("/api/v1/tenants")
@Produces(MediaType.APPLICATION_JSON)
@Consumes(MediaType.APPLICATION_JSON)
@RolesAllowed(Role.Names.PLATFORM_ADMIN)
@Tag(name = "tenants")
public class TenantResource {
    @Inject
    TenantService tenants;
    @Inject
    TokenIssuer tokenIssuer;
    @Inject
    Idempotency idempotency;

    @POST
    @Operation(summary = "Create a tenant (platform-admin)")
    public RestResponse<TenantView> createTenant(@Valid @NotNull CreateTenantRequest body,
                                                 @HeaderParam(Idempotency.HEADER) String idempotencyKey) {
        return idempotency.run(idempotencyKey, "POST /api/v1/tenants", body, () -> {
            var created = tenants.create(body);
            return created.created(URI.create("/api/v1/tenants/" + created.view().id()));
        });
    }

    @GET
    @Operation(summary = "List tenants (platform-admin)")
    public Page<TenantView> listTenants(@QueryParam("pageSize") String pageSize, @QueryParam("pageToken") String pageToken) {
        return tenants.list(PageRequest.of(pageSize, pageToken, ResourceId.TENANT));
    }

    @GET
    @Path("{id}")
    @Operation(summary = "Get a tenant (platform-admin)")
    public RestResponse<TenantView> getTenant(@PathParam("id") String id) {
        return tenants.get(ResourceId.TENANT.require("id", id)).ok();
    }

    @DELETE
    @Path("{id}")
    @Operation(summary = "Delete an empty tenant (platform-admin); 409 while it owns images or machines")
    public RestResponse<Void> deleteTenant(@PathParam("id") String id, @HeaderParam("If-Match") String ifMatch) {
        tenants.delete(ResourceId.TENANT.require("id", id), ifMatch);
        return RestResponse.noContent();
    }

    @POST
    @Path("{id}/tokens")
    @Operation(summary = "Mint a token for a tenant, e.g. its first tenant-admin token (platform-admin)")
    public RestResponse<CreatedToken> createTenantToken(@PathParam("id") String id, @Valid @NotNull CreateTokenRequest body,
                                                        @HeaderParam(Idempotency.HEADER) String idempotencyKey) {
        String tenantId = ResourceId.TENANT.require("id", id);
        return idempotency.run(idempotencyKey, "POST /api/v1/tenants/" + tenantId + "/tokens", body,
                () -> tokenIssuer.issueForTenant(tenantId, body));
    }
}

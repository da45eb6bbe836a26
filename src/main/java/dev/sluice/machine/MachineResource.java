package dev.sluice.machine;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.boot.BootMissesReport;
import dev.sluice.boot.BootService;
import dev.sluice.boot.BootView;
import dev.sluice.boot.HandoffView;
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
import jakarta.ws.rs.PATCH;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import java.net.URI;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.RequestBody;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.jboss.resteasy.reactive.RestResponse;
import dev.sluice.platform.problem.ApiException;
import dev.sluice.token.CreatedToken;

@Path("/api/v1/machines")
@Produces(MediaType.APPLICATION_JSON)
@Consumes(MediaType.APPLICATION_JSON)
@Tag(name = "machines")
public class MachineResource {
    @Inject
    MachineService machines;
    @Inject
    Caller caller;
    @Inject
    Idempotency idempotency;
    @Inject
    BootService boots;

    /** A machine's boots; wrapped so the response can grow (paging) without breaking clients. */
    public record BootList(java.util.List<BootView> items) {
    }

    @POST
    @RolesAllowed(Role.Names.TENANT_MEMBER)
    @Operation(summary = "Register a machine that boots the given image")
    public RestResponse<MachineView> createMachine(@Valid @NotNull CreateMachineRequest body,
                                               @HeaderParam(Idempotency.HEADER) String idempotencyKey) {
        String tenant = caller.tenantId();
        return idempotency.run(idempotencyKey, "POST /api/v1/machines", body, () -> {
            var created = machines.create(tenant, body);
            return created.created(URI.create("/api/v1/machines/" + created.view().id()));
        });
    }

    @GET
    @RolesAllowed(Role.Names.TENANT_VIEWER)
    @Operation(summary = "List the tenant's machines")
    public Page<MachineView> listMachines(@QueryParam("pageSize") String pageSize, @QueryParam("pageToken") String pageToken) {
        return machines.list(caller.tenantId(), PageRequest.of(pageSize, pageToken, ResourceId.MACHINE));
    }

    @GET
    @Path("{id}")
    @RolesAllowed({Role.Names.TENANT_VIEWER, Role.Names.MACHINE})
    @Operation(summary = "Get a machine, with its image geometry and hydration progress (also with the machine's own credential)")
    public RestResponse<MachineView> getMachine(@PathParam("id") String id) {
        return machines.get(caller.tenantId(), caller.visibleMachine(id)).ok();
    }

    @POST
    @Path("{id}/credentials")
    @RolesAllowed(Role.Names.TENANT_MEMBER)
    @Operation(summary = "Create a machine credential for the machine's agent; the response carries its secret, shown this once")
    public RestResponse<CreatedToken> createMachineCredential(@PathParam("id") String id, @Valid CreateMachineCredentialRequest body,
                                                              @HeaderParam(Idempotency.HEADER) String idempotencyKey) {
        String tenant = caller.tenantId();
        String machine = ResourceId.MACHINE.require("id", id);
        return idempotency.run(idempotencyKey, "POST /api/v1/machines/" + machine + "/credentials", body,
                () -> machines.issueCredential(tenant, machine, body));
    }

    @GET
    @Path("{id}/boots")
    @RolesAllowed(Role.Names.TENANT_VIEWER)
    @Operation(summary = "The machine's boots, newest first (at most 50): phase remote, then agent after the hand-off, and the first touches each recorded")
    public BootList listMachineBoots(@PathParam("id") String id) {
        return new BootList(boots.list(caller.tenantId(), ResourceId.MACHINE.require("id", id)));
    }

    @POST
    @Path("{id}/boot-handoff")
    @RolesAllowed({Role.Names.TENANT_MEMBER, Role.Names.MACHINE})
    @Operation(summary = "The machine's agent reports its driver is up: ends the remote boot phase and returns the agent's prefetch priority")
    public RestResponse<HandoffView> handoffMachineBoot(@PathParam("id") String id) {
        return RestResponse.ok(boots.handoff(caller.tenantId(), caller.visibleMachine(id)));
    }

    @POST
    @Path("{id}/boot-misses")
    @RolesAllowed({Role.Names.TENANT_MEMBER, Role.Names.MACHINE})
    @Operation(summary = "The machine's agent reports the blocks its guest first touched (reads, in first-touch order) in the boot it was handed (they teach the image's boot order)")
    public RestResponse<Void> reportMachineBootMisses(@PathParam("id") String id, @Valid @NotNull BootMissesReport body) {
        boots.reportMisses(caller.tenantId(), caller.visibleMachine(id), body);
        return RestResponse.noContent();
    }

    @PUT
    @Path("{id}/hydration")
    @RolesAllowed({Role.Names.TENANT_MEMBER, Role.Names.MACHINE})
    @Operation(summary = "Report the machine's hydration progress (its agent does, with the machine's credential)")
    public RestResponse<MachineView> putMachineHydration(@PathParam("id") String id, @Valid @NotNull HydrationReport body) {
        return machines.reportHydration(caller.tenantId(), caller.visibleMachine(id), body).ok();
    }

    @PATCH
    @Path("{id}")
    @RolesAllowed(Role.Names.TENANT_MEMBER)
    @Consumes({"application/merge-patch+json", MediaType.APPLICATION_JSON})
    @Operation(summary = "Change a machine's name, MAC, image or labels (JSON merge patch)")
    @RequestBody(content = @Content(schema = @Schema(implementation = MachinePatch.class)))
    public RestResponse<MachineView> patchMachine(@PathParam("id") String id, @NotNull JsonNode body,
                                              @HeaderParam("If-Match") String ifMatch) {
        return machines.patch(caller.tenantId(), ResourceId.MACHINE.require("id", id), body, ifMatch).ok();
    }

    @DELETE
    @Path("{id}")
    @RolesAllowed(Role.Names.TENANT_MEMBER)
    @Operation(summary = "Delete a machine")
    public RestResponse<Void> deleteMachine(@PathParam("id") String id, @HeaderParam("If-Match") String ifMatch) {
        machines.delete(caller.tenantId(), ResourceId.MACHINE.require("id", id), ifMatch);
        return RestResponse.noContent();
    }
}

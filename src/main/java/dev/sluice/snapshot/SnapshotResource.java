package dev.sluice.snapshot;

import dev.sluice.platform.api.Page;
import dev.sluice.platform.api.PageRequest;
import dev.sluice.platform.api.ResourceId;
import dev.sluice.platform.security.Caller;
import dev.sluice.platform.security.Role;
import jakarta.annotation.security.RolesAllowed;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.jboss.resteasy.reactive.RestResponse;

@Path("/api/v1/snapshots")
@Produces(MediaType.APPLICATION_JSON)
@RolesAllowed(Role.Names.TENANT_VIEWER)
@Tag(name = "snapshots")
public class SnapshotResource {
    @Inject
    SnapshotService snapshots;
    @Inject
    Caller caller;

    @GET
    @Operation(summary = "List the tenant's snapshots, optionally of one machine")
    public Page<SnapshotView> listSnapshots(@QueryParam("machineId") String machineId, @QueryParam("pageSize") String pageSize,
                                            @QueryParam("pageToken") String pageToken) {
        String machine = machineId == null ? null : ResourceId.MACHINE.require("machineId", machineId);
        return snapshots.list(caller.tenantId(), machine, PageRequest.of(pageSize, pageToken, ResourceId.SNAPSHOT));
    }

    @GET
    @Path("{id}")
    @Operation(summary = "Get a snapshot; once ready, imageId names the image holding its content")
    public RestResponse<SnapshotView> getSnapshot(@PathParam("id") String id) {
        return snapshots.get(caller.tenantId(), ResourceId.SNAPSHOT.require("id", id)).ok();
    }
}

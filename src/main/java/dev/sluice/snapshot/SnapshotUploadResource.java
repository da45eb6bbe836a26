package dev.sluice.snapshot;

import dev.sluice.platform.api.ResourceId;
import dev.sluice.platform.security.Caller;
import dev.sluice.platform.security.Role;
import jakarta.annotation.security.RolesAllowed;
import jakarta.inject.Inject;
import jakarta.validation.Valid;
import jakarta.validation.constraints.NotNull;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * The agent's side of a snapshot (docs/block-protocol.md, "Snapshot upload"): declare the cut, learn which blocks
 * the server already holds, send the rest as verified frames, then complete to get the acknowledgement. A machine
 * credential reaches only its own machine's uploads. These methods block (JDBC, store) and run on worker threads.
 */
@Path("/api/v1/machines/{id}/snapshot-uploads/{operationId}")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "snapshots")
public class SnapshotUploadResource {
    public static final String BLOCKS_MEDIA_TYPE = "application/vnd.sluice.blocks";

    @Inject
    SnapshotUploadService uploads;
    @Inject
    Caller caller;

    @GET
    @RolesAllowed({Role.Names.TENANT_MEMBER, Role.Names.MACHINE})
    @Operation(summary = "A snapshot upload: its cut and the blocks the server holds durably (resume skips them)")
    public SnapshotUploadView getSnapshotUpload(@PathParam("id") String id, @PathParam("operationId") String operationId) {
        return uploads.view(caller.tenantId(), caller.visibleMachine(id), ResourceId.OPERATION.require("operationId", operationId));
    }

    @PUT
    @Consumes(MediaType.APPLICATION_JSON)
    @RolesAllowed({Role.Names.TENANT_MEMBER, Role.Names.MACHINE})
    @Operation(summary = "The agent declares the blocks it froze for this snapshot")
    public SnapshotUploadView putSnapshotUploadCut(@PathParam("id") String id, @PathParam("operationId") String operationId,
                                                   @Valid @NotNull DeclareCutRequest body) {
        return uploads.declareCut(caller.tenantId(), caller.visibleMachine(id), ResourceId.OPERATION.require("operationId", operationId), body.cutBlocks());
    }

    // POST blocks: SnapshotBlocksRoute (a streaming Vert.x route, like image content uploads).

    @POST
    @Path("complete")
    @Consumes(MediaType.APPLICATION_JSON)
    @RolesAllowed({Role.Names.TENANT_MEMBER, Role.Names.MACHINE})
    @Operation(summary = "Commit the snapshot once every block of the cut is received; returns the acknowledgement (idempotent)")
    public SnapshotAck completeSnapshotUpload(@PathParam("id") String id, @PathParam("operationId") String operationId,
                                              @Valid @NotNull CompleteUploadRequest body) {
        return uploads.complete(caller.tenantId(), caller.visibleMachine(id), ResourceId.OPERATION.require("operationId", operationId), body);
    }
}

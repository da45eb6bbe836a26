package dev.sluice.snapshot;

import dev.sluice.command.CommandWatch;
import dev.sluice.operation.OperationView;
import dev.sluice.platform.api.Idempotency;
import dev.sluice.platform.problem.ApiException;
import dev.sluice.platform.problem.ProblemType;
import dev.sluice.platform.security.Caller;
import dev.sluice.platform.security.Role;
import jakarta.annotation.security.RolesAllowed;
import jakarta.inject.Inject;
import jakarta.validation.Valid;
import jakarta.validation.constraints.NotNull;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.net.URI;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.jboss.resteasy.reactive.RestResponse;

/** Requesting a snapshot of a running machine: 202 with the operation that tracks the agent's upload. */
@Path("/api/v1/machines/{id}/snapshots")
@Produces(MediaType.APPLICATION_JSON)
@Consumes(MediaType.APPLICATION_JSON)
@Tag(name = "snapshots")
public class MachineSnapshotResource {
    @Inject
    SnapshotUploadService uploads;
    @Inject
    Caller caller;
    @Inject
    Idempotency idempotency;
    @Inject
    CommandWatch commandWatch;

    @POST
    @RolesAllowed({Role.Names.TENANT_MEMBER, Role.Names.MACHINE})
    @Operation(summary = "Snapshot the running machine (point in time; its agent uploads the modified blocks); poll the operation")
    public RestResponse<OperationView> createMachineSnapshot(@PathParam("id") String id, @Valid @NotNull CreateSnapshotRequest body,
                                                             @HeaderParam(Idempotency.HEADER) String idempotencyKey) {
        String tenant = caller.tenantId();
        String machine = caller.visibleMachine(id);
        if (caller.isMachineOnly()) {
            throw new ApiException(ProblemType.FORBIDDEN, "a machine credential cannot request snapshots");
        }
        RestResponse<OperationView> response = idempotency.run(idempotencyKey, "POST /api/v1/machines/" + machine + "/snapshots", body, () -> {
            var op = uploads.request(tenant, machine, body);
            return RestResponse.ResponseBuilder.<OperationView>create(RestResponse.Status.ACCEPTED, OperationView.of(op))
                    .location(URI.create("/api/v1/operations/" + op.id)).build();
        });
        commandWatch.wake(machine); // committed: an agent polling this replica gets the command now
        return response;
    }
}

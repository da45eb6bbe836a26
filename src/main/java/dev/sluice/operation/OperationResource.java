package dev.sluice.operation;

import dev.sluice.platform.api.ResourceId;
import dev.sluice.platform.problem.ApiException;
import dev.sluice.platform.security.Caller;
import dev.sluice.platform.security.Role;
import jakarta.annotation.security.RolesAllowed;
import jakarta.inject.Inject;
import jakarta.transaction.Transactional;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

@Path("/api/v1/operations")
@Produces(MediaType.APPLICATION_JSON)
@RolesAllowed(Role.Names.TENANT_VIEWER)
@Tag(name = "operations")
public class OperationResource {
    @Inject
    Caller caller;

    @GET
    @Path("{id}")
    @Transactional
    @org.eclipse.microprofile.openapi.annotations.Operation(summary = "Poll a long-running operation")
    public OperationView getOperation(@PathParam("id") String id) {
        String tenant = caller.tenantId();
        Operation o = Operation.find("id = ?1 and tenantId = ?2", ResourceId.OPERATION.require("id", id), tenant).firstResult();
        if (o == null) {
            throw ApiException.notFound("operation " + id);
        }
        return OperationView.of(o);
    }
}

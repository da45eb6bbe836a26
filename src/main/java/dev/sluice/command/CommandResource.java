package dev.sluice.command;

import dev.sluice.platform.problem.ApiException;
import dev.sluice.platform.problem.ProblemType;
import dev.sluice.platform.security.Caller;
import dev.sluice.platform.security.Role;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import jakarta.annotation.security.RolesAllowed;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * The agent command channel: a long poll. The event loop never waits: each look at the database runs on a worker
 * thread, and between looks the request is parked on a timer. A command written through any replica is found by
 * the next look (at most {@link #LOOK_INTERVAL} later), so no replica needs to know where the agent is connected.
 */
@Path("/api/v1/machines/{id}/commands")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "machines")
public class CommandResource {
    static final Duration LOOK_INTERVAL = Duration.ofMillis(250);
    static final Duration MAX_WAIT = Duration.ofSeconds(60);

    @Inject
    CommandService commands;
    @Inject
    Caller caller;

    @GET
    @RolesAllowed({Role.Names.TENANT_MEMBER, Role.Names.MACHINE})
    @Operation(summary = "The machine's commands that are not done yet (its agent long-polls with ?wait=PT25S)")
    public Uni<CommandList> listMachineCommands(@PathParam("id") String id, @QueryParam("wait") String wait) {
        String tenant = caller.tenantId();
        String machine = caller.visibleMachine(id);
        long deadline = System.nanoTime() + parseWait(wait).toNanos();
        return look(tenant, machine, deadline);
    }

    private Uni<CommandList> look(String tenant, String machine, long deadline) {
        return Uni.createFrom().item(() -> commands.pending(tenant, machine))
                .runSubscriptionOn(Infrastructure.getDefaultWorkerPool())
                .flatMap(found -> found.isEmpty() && System.nanoTime() < deadline
                        ? Uni.createFrom().voidItem().onItem().delayIt().by(LOOK_INTERVAL).flatMap(x -> look(tenant, machine, deadline))
                        : Uni.createFrom().item(new CommandList(found)));
    }

    private static Duration parseWait(String wait) {
        if (wait == null) {
            return Duration.ZERO;
        }
        try {
            Duration d = Duration.parse(wait);
            if (d.isNegative() || d.compareTo(MAX_WAIT) > 0) {
                throw ApiException.field(ProblemType.INVALID_PARAMETER, "wait", "must be between PT0S and " + MAX_WAIT);
            }
            return d;
        } catch (DateTimeParseException e) {
            throw ApiException.field(ProblemType.INVALID_PARAMETER, "wait", "an ISO-8601 duration such as PT25S");
        }
    }
}

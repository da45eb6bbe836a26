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
 * The agent command channel: a long poll. The event loop never waits: the request looks at the database on a worker
 * thread, and if nothing is pending it is parked until {@link CommandWatch} sees a command for its machine (written
 * through any replica: no replica needs to know where the agent is connected) or the wait is over.
 */
@Path("/api/v1/machines/{id}/commands")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "machines")
public class CommandResource {
    static final Duration MAX_WAIT = Duration.ofSeconds(60);

    @Inject
    CommandService commands;
    @Inject
    Caller caller;
    @Inject
    CommandWatch watch;

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
                .flatMap(found -> {
                    long left = deadline - System.nanoTime();
                    if (!found.isEmpty() || left <= 0) {
                        return Uni.createFrom().item(new CommandList(found));
                    }
                    return Uni.createFrom().<Boolean>emitter(e -> {
                                Runnable cancel = watch.await(machine, () -> e.complete(true));
                                e.onTermination(cancel);
                            })
                            .ifNoItem().after(Duration.ofNanos(left)).recoverWithItem(false)
                            .flatMap(woken -> look(tenant, machine, woken ? deadline : System.nanoTime()));
                });
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

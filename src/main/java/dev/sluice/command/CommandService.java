package dev.sluice.command;

import dev.sluice.machine.MachineService;
import dev.sluice.platform.api.ResourceId;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.transaction.Transactional;
import java.time.Instant;
import java.util.List;

/**
 * The agent command channel's storage. Commands live only in the database: a command inserted through one
 * control-plane replica is seen by an agent long-polling any other, and an agent that reconnects (or restarts)
 * gets every command that is not done yet. Agents must therefore treat a command they already work on as a
 * repeat (commands carry the id of their operation). All methods block (JDBC): call from a worker thread.
 */
@ApplicationScoped
public class CommandService {
    @Inject
    MachineService machines;

    /** Queues a command; joins the caller's transaction, so the command exists exactly if the caller commits. */
    @Transactional
    public MachineCommand issue(String tenantId, String machineId, String operationId, String kind, String payload) {
        MachineCommand c = new MachineCommand();
        c.id = ResourceId.COMMAND.next();
        c.tenantId = tenantId;
        c.machineId = machineId;
        c.operationId = operationId;
        c.kind = kind;
        c.payload = payload;
        c.state = MachineCommand.PENDING;
        c.createdAt = Instant.now();
        c.updatedAt = c.createdAt;
        c.persist();
        return c;
    }

    /** The machine's pending commands (404 if the machine is not the tenant's). */
    @Transactional
    public List<CommandView> pending(String tenantId, String machineId) {
        machines.find(tenantId, machineId);
        return MachineCommand.<MachineCommand>find("tenantId = ?1 and machineId = ?2 and state = ?3 order by id",
                tenantId, machineId, MachineCommand.PENDING).list().stream().map(CommandView::of).toList();
    }

    /** Marks the operation's commands done (in the caller's transaction). */
    @Transactional
    public void completeFor(String tenantId, String operationId) {
        MachineCommand.update("state = ?1, updatedAt = ?2 where tenantId = ?3 and operationId = ?4",
                MachineCommand.DONE, Instant.now(), tenantId, operationId);
    }
}

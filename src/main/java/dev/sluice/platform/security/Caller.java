package dev.sluice.platform.security;

import dev.sluice.platform.problem.ApiException;
import dev.sluice.platform.problem.ProblemType;
import io.quarkus.security.identity.SecurityIdentity;
import jakarta.enterprise.context.RequestScoped;
import jakarta.inject.Inject;

/**
 * Who is calling, as established by a verified credential. The tenant comes only from here, never from a
 * request body, path or header.
 */
@RequestScoped
public class Caller {
    public static final String ATTR_TENANT = "sluice.tenant";
    public static final String ATTR_MACHINE = "sluice.machine";
    public static final String ATTR_ROLE = "sluice.role";

    @Inject
    SecurityIdentity identity;

    /** The caller's tenant; 403 for credentials that belong to no tenant (platform tokens). */
    public String tenantId() {
        String tenant = identity.getAttribute(ATTR_TENANT);
        if (tenant == null) {
            throw new ApiException(ProblemType.FORBIDDEN, "this credential belongs to no tenant");
        }
        return tenant;
    }

    public boolean isPlatformAdmin() {
        return identity.hasRole(Role.Names.PLATFORM_ADMIN);
    }

    /** The machine a machine credential is bound to, or null. */
    public String machineId() {
        return identity.getAttribute(ATTR_MACHINE);
    }

    /**
     * True for a machine credential (role {@code machine} and no tenant role): it may act only on its own
     * machine ({@link #machineId()}) and that machine's image.
     */
    public boolean isMachineOnly() {
        return identity.hasRole(Role.Names.MACHINE) && !identity.hasRole(Role.Names.TENANT_VIEWER);
    }

    /**
     * {@code rawId} as a machine id the caller may act on: well formed (else 400), and for a machine credential its
     * own machine (another machine is a 404, indistinguishable from a missing one).
     */
    public String visibleMachine(String rawId) {
        String machine = dev.sluice.platform.api.ResourceId.MACHINE.require("id", rawId);
        if (isMachineOnly() && !machine.equals(machineId())) {
            throw ApiException.notFound("machine " + machine);
        }
        return machine;
    }

    /** Partition for per-caller records such as idempotency keys: the tenant id, or "platform". */
    public String scope() {
        String tenant = identity.getAttribute(ATTR_TENANT);
        return tenant != null ? tenant : "platform";
    }

    public String principal() {
        return identity.getPrincipal() == null ? "anonymous" : identity.getPrincipal().getName();
    }
}

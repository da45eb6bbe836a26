package dev.sluice.tenant;

import dev.sluice.platform.api.EntityTag;
import dev.sluice.platform.api.Page;
import dev.sluice.platform.api.PageRequest;
import dev.sluice.platform.api.ResourceId;
import dev.sluice.platform.api.Versioned;
import dev.sluice.platform.problem.ApiException;
import dev.sluice.platform.problem.ProblemType;
import dev.sluice.image.Image;
import dev.sluice.machine.Machine;
import io.quarkus.hibernate.orm.panache.Panache;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.transaction.Transactional;
import java.time.Instant;
import java.util.Optional;

@ApplicationScoped
public class TenantService {

    @Transactional
    public Versioned<TenantView> create(CreateTenantRequest request) {
        if (Tenant.count("name", request.name()) > 0) {
            throw ApiException.field(ProblemType.ALREADY_EXISTS, "name", "a tenant named '" + request.name() + "' exists");
        }
        Tenant t = new Tenant();
        t.id = ResourceId.TENANT.next();
        t.name = request.name();
        t.displayName = request.displayName();
        t.createdAt = Instant.now();
        t.updatedAt = t.createdAt;
        t.persist();
        Panache.getEntityManager().flush();
        return new Versioned<>(TenantView.of(t), t.version);
    }

    @Transactional
    public Page<TenantView> list(PageRequest page) {
        var rows = Tenant.<Tenant>find("id > ?1 order by id", page.afterOrStart()).page(0, page.pageSize() + 1).list();
        return Page.of(rows, page, ResourceId.TENANT, t -> t.id, TenantView::of);
    }

    @Transactional
    public Versioned<TenantView> get(String id) {
        Tenant t = find(id);
        return new Versioned<>(TenantView.of(t), t.version);
    }

    /** A tenant that still owns images or machines is not deleted (409): deleting data is the tenant's call. */
    @Transactional
    public void delete(String id, String ifMatch) {
        Tenant t = find(id);
        EntityTag.checkIfMatch(ifMatch, t.version);
        if (Image.count("tenantId", id) + Machine.count("tenantId", id) > 0) {
            throw new ApiException(ProblemType.CONFLICT, "the tenant still owns images or machines; delete them first");
        }
        Panache.getEntityManager().createQuery("delete from Snapshot s where s.tenantId = :t").setParameter("t", id).executeUpdate();
        Panache.getEntityManager().createQuery("delete from Operation o where o.tenantId = :t").setParameter("t", id).executeUpdate();
        Panache.getEntityManager().createQuery("delete from ApiToken k where k.tenantId = :t").setParameter("t", id).executeUpdate();
        Panache.getEntityManager().createQuery("delete from IdempotencyRecord r where r.tenantId = :t").setParameter("t", id).executeUpdate();
        t.delete();
    }

    @Transactional
    public boolean exists(String id) {
        return ResourceId.TENANT.matches(id) && Tenant.findById(id) != null;
    }

    /** Resolves an OIDC tenant claim, which may hold a tenant id or a tenant name. */
    @Transactional
    public Optional<String> resolveIdOrName(String claim) {
        if (ResourceId.TENANT.matches(claim)) {
            return Optional.ofNullable(Tenant.<Tenant>findById(claim)).map(t -> t.id);
        }
        return Tenant.<Tenant>find("name", claim).firstResultOptional().map(t -> t.id);
    }

    private Tenant find(String id) {
        Tenant t = Tenant.findById(id);
        if (t == null) {
            throw ApiException.notFound("tenant " + id);
        }
        return t;
    }
}

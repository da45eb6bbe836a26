package dev.sluice.snapshot;

import dev.sluice.platform.api.Page;
import dev.sluice.platform.api.PageRequest;
import dev.sluice.platform.api.ResourceId;
import dev.sluice.platform.api.Versioned;
import dev.sluice.platform.problem.ApiException;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.transaction.Transactional;

/** Read side of snapshots; creation (acknowledged upload from a machine's agent) arrives with the snapshot issue. */
@ApplicationScoped
public class SnapshotService {

    @Transactional
    public Page<SnapshotView> list(String tenantId, String machineId, PageRequest page) {
        var query = machineId == null
                ? Snapshot.<Snapshot>find("tenantId = ?1 and id > ?2 order by id", tenantId, page.afterOrStart())
                : Snapshot.<Snapshot>find("tenantId = ?1 and machineId = ?2 and id > ?3 order by id", tenantId, machineId, page.afterOrStart());
        return Page.of(query.page(0, page.pageSize() + 1).list(), page, ResourceId.SNAPSHOT, s -> s.id, SnapshotView::of);
    }

    @Transactional
    public Versioned<SnapshotView> get(String tenantId, String id) {
        Snapshot s = Snapshot.find("id = ?1 and tenantId = ?2", id, tenantId).firstResult();
        if (s == null) {
            throw ApiException.notFound("snapshot " + id);
        }
        return new Versioned<>(SnapshotView.of(s), s.version);
    }
}

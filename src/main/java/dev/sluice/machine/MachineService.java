package dev.sluice.machine;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.image.Image;
import dev.sluice.platform.api.EntityTag;
import dev.sluice.platform.api.MergePatch;
import dev.sluice.platform.api.Page;
import dev.sluice.platform.api.PageRequest;
import dev.sluice.platform.api.ResourceId;
import dev.sluice.platform.api.Versioned;
import dev.sluice.platform.problem.ApiException;
import dev.sluice.platform.problem.ProblemType;
import dev.sluice.token.CreatedToken;
import dev.sluice.token.TokenIssuer;
import jakarta.inject.Inject;
import org.jboss.resteasy.reactive.RestResponse;
import io.quarkus.hibernate.orm.panache.Panache;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.transaction.Transactional;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.stream.Collectors;

/** Machine metadata, tenant-scoped like everything else. */
@ApplicationScoped
public class MachineService {
    private static final Set<String> PATCHABLE = Set.of("name", "mac", "imageId", "labels");

    @Inject
    TokenIssuer issuer;

    @Transactional
    public Versioned<MachineView> create(String tenantId, CreateMachineRequest request) {
        MergePatch.checkLabels("labels", request.labels());
        Image image = imageFor(tenantId, request.imageId());
        String mac = MacAddress.normalize(request.mac());
        checkUnique(tenantId, null, request.name(), mac);
        Machine m = new Machine();
        m.id = ResourceId.MACHINE.next();
        m.tenantId = tenantId;
        m.name = request.name();
        m.mac = mac;
        m.imageId = image.id;
        m.labels = request.labels() == null ? new TreeMap<>() : new TreeMap<>(request.labels());
        m.state = MachineState.REGISTERED;
        m.createdAt = Instant.now();
        m.updatedAt = m.createdAt;
        m.persist();
        Panache.getEntityManager().flush();
        return new Versioned<>(MachineView.of(m, image), m.version);
    }

    @Transactional
    public Page<MachineView> list(String tenantId, PageRequest page) {
        List<Machine> rows = Machine.<Machine>find("tenantId = ?1 and id > ?2 order by id", tenantId, page.afterOrStart())
                .page(0, page.pageSize() + 1).list();
        Set<String> imageIds = rows.stream().map(m -> m.imageId).collect(Collectors.toSet());
        Map<String, Image> byId = imageIds.isEmpty() ? Map.of()
                : Image.<Image>list("id in ?1", imageIds).stream().collect(Collectors.toMap(i -> i.id, Function.identity()));
        return Page.of(rows, page, ResourceId.MACHINE, m -> m.id, m -> MachineView.of(m, byId.get(m.imageId)));
    }

    @Transactional
    public Versioned<MachineView> get(String tenantId, String id) {
        Machine m = find(tenantId, id);
        return new Versioned<>(MachineView.of(m, Image.findById(m.imageId)), m.version);
    }

    @Transactional
    public Versioned<MachineView> patch(String tenantId, String id, JsonNode body, String ifMatch) {
        MergePatch patch = MergePatch.of(body, PATCHABLE);
        Machine m = find(tenantId, id);
        EntityTag.checkIfMatch(ifMatch, m.version);
        String name = patch.has("name") ? patch.name("name") : m.name;
        String mac = m.mac;
        if (patch.has("mac")) {
            String raw = patch.text("mac", 17, true);
            if (raw != null && !raw.matches(MacAddress.PATTERN)) {
                throw ApiException.field(ProblemType.VALIDATION, "mac", MacAddress.MESSAGE);
            }
            mac = MacAddress.normalize(raw);
        }
        String imageId = patch.has("imageId") ? imageFor(tenantId, patch.text("imageId", 32, false)).id : m.imageId;
        Map<String, String> labels = patch.has("labels") ? patch.labels("labels", m.labels) : m.labels;
        checkUnique(tenantId, m.id, name, mac);
        m.name = name;
        m.mac = mac;
        m.imageId = imageId;
        m.labels = labels;
        m.updatedAt = Instant.now();
        Panache.getEntityManager().flush();
        return new Versioned<>(MachineView.of(m, Image.findById(m.imageId)), m.version);
    }

    /** Issues a machine credential for machine {@code id} (404 if it is not the tenant's). */
    @Transactional
    public RestResponse<CreatedToken> issueCredential(String tenantId, String id, CreateMachineCredentialRequest request) {
        Machine m = find(tenantId, id);
        return issuer.issueForMachine(tenantId, m.id, request == null ? null : request.name(), request == null ? null : request.expiresAt());
    }

    /**
     * Stores an agent's hydration report. The first report moves the machine to RUNNING (its agent serves the
     * disk). totalBlocks must match the machine's current image, so a report about a previous image is refused.
     */
    @Transactional
    public Versioned<MachineView> reportHydration(String tenantId, String id, HydrationReport report) {
        Machine m = find(tenantId, id);
        Image image = Image.findById(m.imageId);
        long blockCount = (image.sizeBytes + image.blockSize - 1) / image.blockSize;
        if (report.totalBlocks() != blockCount) {
            throw ApiException.field(ProblemType.VALIDATION, "totalBlocks",
                    "must equal the block count of the machine's image (" + blockCount + ")");
        }
        if (report.presentBlocks() > report.totalBlocks()) {
            throw ApiException.field(ProblemType.VALIDATION, "presentBlocks", "must be at most totalBlocks");
        }
        if (report.dirtyBlocks() > report.totalBlocks()) {
            throw ApiException.field(ProblemType.VALIDATION, "dirtyBlocks", "must be at most totalBlocks");
        }
        if ("hydrated".equals(report.state()) && !report.presentBlocks().equals(report.totalBlocks())) {
            throw ApiException.field(ProblemType.VALIDATION, "state", "hydrated needs presentBlocks == totalBlocks");
        }
        m.hydrationState = report.state();
        m.presentBlocks = report.presentBlocks();
        m.totalBlocks = report.totalBlocks();
        m.dirtyBlocks = report.dirtyBlocks();
        m.bytesFetched = report.bytesFetched();
        m.fetchRateBytesPerSecond = report.fetchRateBytesPerSecond();
        m.hydrationUpdatedAt = Instant.now();
        m.state = MachineState.RUNNING;
        m.updatedAt = m.hydrationUpdatedAt;
        Panache.getEntityManager().flush();
        return new Versioned<>(MachineView.of(m, image), m.version);
    }

    @Transactional
    public void delete(String tenantId, String id, String ifMatch) {
        Machine m = find(tenantId, id);
        EntityTag.checkIfMatch(ifMatch, m.version);
        m.delete();
    }

    @Transactional
    public Machine find(String tenantId, String id) {
        Machine m = Machine.find("id = ?1 and tenantId = ?2", id, tenantId).firstResult();
        if (m == null) {
            throw ApiException.notFound("machine " + id);
        }
        return m;
    }

    /** A body's image reference: another tenant's image and a missing one give the same 422. */
    private static Image imageFor(String tenantId, String imageId) {
        if (!ResourceId.IMAGE.matches(imageId)) {
            throw ApiException.field(ProblemType.VALIDATION, "imageId", "not a well-formed image id");
        }
        Image image = Image.find("id = ?1 and tenantId = ?2", imageId, tenantId).firstResult();
        if (image == null) {
            throw ApiException.field(ProblemType.VALIDATION, "imageId", "no such image");
        }
        return image;
    }

    private static void checkUnique(String tenantId, String selfId, String name, String mac) {
        String self = selfId == null ? "" : selfId;
        if (Machine.count("tenantId = ?1 and name = ?2 and id <> ?3", tenantId, name, self) > 0) {
            throw ApiException.field(ProblemType.ALREADY_EXISTS, "name", "a machine named '" + name + "' exists in this tenant");
        }
        // A MAC is unique across tenants: the boot endpoint resolves it without a credential. The answer does not
        // say where the other machine is.
        if (mac != null && Machine.count("mac = ?1 and id <> ?2", mac, self) > 0) {
            throw ApiException.field(ProblemType.ALREADY_EXISTS, "mac", "MAC " + mac + " is already registered");
        }
    }
}

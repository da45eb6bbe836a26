package dev.sluice.image;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.machine.Machine;
import dev.sluice.platform.api.EntityTag;
import dev.sluice.platform.api.MergePatch;
import dev.sluice.platform.api.Names;
import dev.sluice.platform.api.Page;
import dev.sluice.platform.api.PageRequest;
import dev.sluice.platform.api.ResourceId;
import dev.sluice.platform.api.Versioned;
import dev.sluice.platform.problem.ApiException;
import dev.sluice.platform.problem.ProblemType;
import io.quarkus.hibernate.orm.panache.Panache;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.transaction.Transactional;
import java.time.Instant;
import java.util.Set;
import java.util.TreeMap;

/** Image metadata. Every query is scoped by tenant: another tenant's image is indistinguishable from none. */
@ApplicationScoped
public class ImageService {
    private static final Set<String> PATCHABLE = Set.of("description", "labels");

    @Transactional
    public Versioned<ImageView> create(String tenantId, CreateImageRequest request) {
        MergePatch.checkLabels("labels", request.labels());
        int blockSize = ImageGeometry.blockSize(request.blockSize());
        long size = ImageGeometry.sizeBytes(request.sizeBytes(), blockSize);
        if (Image.count("tenantId = ?1 and name = ?2", tenantId, request.name()) > 0) {
            throw ApiException.field(ProblemType.ALREADY_EXISTS, "name", "an image named '" + request.name() + "' exists in this tenant");
        }
        Image i = new Image();
        i.id = ResourceId.IMAGE.next();
        i.tenantId = tenantId;
        i.name = request.name();
        i.description = request.description();
        i.labels = request.labels() == null ? new TreeMap<>() : new TreeMap<>(request.labels());
        i.sizeBytes = size;
        i.blockSize = blockSize;
        i.state = ImageState.UPLOADING;
        i.createdAt = Instant.now();
        i.updatedAt = i.createdAt;
        i.persist();
        Panache.getEntityManager().flush();
        return new Versioned<>(ImageView.of(i), i.version);
    }

    @Transactional
    public Page<ImageView> list(String tenantId, PageRequest page) {
        var rows = Image.<Image>find("tenantId = ?1 and id > ?2 order by id", tenantId, page.afterOrStart())
                .page(0, page.pageSize() + 1).list();
        return Page.of(rows, page, ResourceId.IMAGE, i -> i.id, ImageView::of);
    }

    @Transactional
    public Versioned<ImageView> get(String tenantId, String id) {
        Image i = find(tenantId, id);
        return new Versioned<>(ImageView.of(i), i.version);
    }

    @Transactional
    public Versioned<ImageView> patch(String tenantId, String id, JsonNode body, String ifMatch) {
        MergePatch patch = MergePatch.of(body, PATCHABLE);
        Image i = find(tenantId, id);
        EntityTag.checkIfMatch(ifMatch, i.version);
        String description = patch.has("description") ? patch.text("description", Names.MAX_DESCRIPTION, true) : i.description;
        var labels = patch.has("labels") ? patch.labels("labels", i.labels) : i.labels;
        i.description = description;
        i.labels = labels;
        i.updatedAt = Instant.now();
        Panache.getEntityManager().flush();
        return new Versioned<>(ImageView.of(i), i.version);
    }

    /** An image still assigned to machines cannot be deleted (409). */
    @Transactional
    public void delete(String tenantId, String id, String ifMatch) {
        Image i = find(tenantId, id);
        EntityTag.checkIfMatch(ifMatch, i.version);
        if (Machine.count("tenantId = ?1 and imageId = ?2", tenantId, id) > 0) {
            throw new ApiException(ProblemType.CONFLICT, "the image is assigned to machines; reassign or delete them first");
        }
        // The row goes now; the collector then releases the blocks no other image references.
        i.delete();
    }

    /** The tenant's image, or 404. */
    @Transactional
    public Image find(String tenantId, String id) {
        Image i = Image.find("id = ?1 and tenantId = ?2", id, tenantId).firstResult();
        if (i == null) {
            throw ApiException.notFound("image " + id);
        }
        return i;
    }
}

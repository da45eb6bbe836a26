package dev.sluice.blockstream;

import dev.sluice.image.Image;
import dev.sluice.platform.api.ResourceId;
import dev.sluice.platform.problem.ApiException;
import dev.sluice.platform.problem.ProblemType;
import dev.sluice.platform.problem.ProblemWriter;
import dev.sluice.platform.security.Role;
import dev.sluice.platform.security.RouteAuth;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.smallrye.mutiny.Uni;
import io.vertx.core.Vertx;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.function.Consumer;

/**
 * Who may read an image's content: a tenant-viewer (or stronger) of its tenant; the machine credential of a
 * machine the image is assigned to; or, only where {@code allowSigned}, the holder of a valid signed URL.
 * Another tenant's image, and a machine's unassigned image, are 404, like a missing one.
 */
@ApplicationScoped
public class ImageAccess {
    @Inject
    RouteAuth auth;
    @Inject
    ImageContent content;
    @Inject
    SignedUrls signedUrls;
    @Inject
    Vertx vertx;

    /** Resolves the image for the request and hands it to {@code then} on the event loop, or writes a problem. */
    public void resolve(RoutingContext rc, boolean allowSigned, Consumer<ServedImage> then) {
        String id = rc.pathParam("id");
        if (!ResourceId.IMAGE.matches(id)) {
            ProblemWriter.write(rc, ApiException.field(ProblemType.INVALID_PARAMETER, "id", "not a well-formed image id"));
            return;
        }
        if (allowSigned && rc.request().getParam("sig") != null) {
            resolveSigned(rc, id, then);
            return;
        }
        Uni<ServedImage> image = auth.require(rc, Role.Names.TENANT_VIEWER, Role.Names.MACHINE).chain(caller -> {
            ServedImage known = content.cachedImage(id);
            if (known != null && caller.has(Role.Names.TENANT_VIEWER) && known.tenantId().equals(caller.tenantId())) {
                return Uni.createFrom().item(known);
            }
            return blocking(() -> {
                if (caller.tenantId() == null) {
                    throw new ApiException(ProblemType.FORBIDDEN, "this credential belongs to no tenant");
                }
                if (!caller.has(Role.Names.TENANT_VIEWER) && !content.machineMayRead(caller.tenantId(), caller.machineId(), id)) {
                    throw ApiException.notFound("image " + id);
                }
                return content.image(caller.tenantId(), id);
            });
        });
        deliver(rc, image, then);
    }

    /**
     * Like {@link #resolve} for a request carrying a signed URL ({@code sig}, {@code exp}, optional {@code machine})
     * for image {@code id}, taken from the path by the caller and not yet validated.
     */
    public void resolveSigned(RoutingContext rc, String id, Consumer<ServedImage> then) {
        String sig = rc.request().getParam("sig");
        String exp = rc.request().getParam("exp");
        String machine = rc.request().getParam("machine");
        String boot = rc.request().getParam("boot");
        // Only well-formed ids are ever cached, so a hit needs no id check.
        ServedImage known = content.cachedImage(id);
        if (known != null) {
            // Fast path, no thread hop: the image is cached and the signature check is pure computation.
            try {
                signedUrls.verify(known.tenantId(), id, exp, machine, boot, sig);
            } catch (RuntimeException e) {
                ProblemWriter.write(rc, e);
                return;
            }
            then.accept(known);
            return;
        }
        if (!ResourceId.IMAGE.matches(id)) {
            ProblemWriter.write(rc, ApiException.field(ProblemType.INVALID_PARAMETER, "id", "not a well-formed image id"));
            return;
        }
        deliver(rc, blocking(() -> {
            String tenant = QuarkusTransaction.requiringNew().call(() -> {
                Image i = Image.findById(id);
                return i == null ? null : i.tenantId;
            });
            if (tenant == null) {
                throw ApiException.notFound("image " + id);
            }
            signedUrls.verify(tenant, id, exp, machine, boot, sig);
            return content.image(tenant, id);
        }), then);
    }

    private void deliver(RoutingContext rc, Uni<ServedImage> image, Consumer<ServedImage> then) {
        io.vertx.core.Context eventLoop = vertx.getOrCreateContext();
        image.subscribe().with(
                served -> eventLoop.runOnContext(v -> then.accept(served)),
                failure -> eventLoop.runOnContext(v -> ProblemWriter.write(rc, failure)));
    }

    private <T> Uni<T> blocking(java.util.concurrent.Callable<T> work) {
        return Uni.createFrom().completionStage(() -> vertx.executeBlocking(work, false).toCompletionStage());
    }
}

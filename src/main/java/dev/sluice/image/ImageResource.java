package dev.sluice.image;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.blockstream.SignedUrls;
import dev.sluice.boot.BootProfileView;
import dev.sluice.boot.BootService;
import dev.sluice.platform.api.Idempotency;
import dev.sluice.upload.ContentService;
import dev.sluice.platform.api.Page;
import dev.sluice.platform.api.PageRequest;
import dev.sluice.platform.api.ResourceId;
import dev.sluice.platform.security.Caller;
import dev.sluice.platform.security.Role;
import jakarta.annotation.security.RolesAllowed;
import jakarta.inject.Inject;
import jakarta.validation.Valid;
import jakarta.validation.constraints.NotNull;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.PATCH;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import java.net.URI;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.RequestBody;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.jboss.resteasy.reactive.RestResponse;

@Path("/api/v1/images")
@Produces(MediaType.APPLICATION_JSON)
@Consumes(MediaType.APPLICATION_JSON)
@Tag(name = "images")
public class ImageResource {
    @Inject
    BootService boots;
    @Inject
    ImageService images;
    @Inject
    Caller caller;
    @Inject
    Idempotency idempotency;
    @Inject
    ContentService content;
    @Inject
    SignedUrls signedUrls;
    @Inject
    dev.sluice.blockstream.ImageContent imageContent;
    @Inject
    dev.sluice.gc.BlockCollector collector;

    @POST
    @RolesAllowed(Role.Names.TENANT_MEMBER)
    @Operation(summary = "Create an image (state uploading); its content is uploaded separately")
    public RestResponse<ImageView> createImage(@Valid @NotNull CreateImageRequest body,
                                               @HeaderParam(Idempotency.HEADER) String idempotencyKey) {
        String tenant = caller.tenantId();
        return idempotency.run(idempotencyKey, "POST /api/v1/images", body, () -> {
            var created = images.create(tenant, body);
            return created.created(URI.create("/api/v1/images/" + created.view().id()));
        });
    }

    @GET
    @RolesAllowed(Role.Names.TENANT_VIEWER)
    @Operation(summary = "List the tenant's images")
    public Page<ImageView> listImages(@QueryParam("pageSize") String pageSize, @QueryParam("pageToken") String pageToken) {
        return images.list(caller.tenantId(), PageRequest.of(pageSize, pageToken, ResourceId.IMAGE));
    }

    @GET
    @Path("{id}")
    @RolesAllowed(Role.Names.TENANT_VIEWER)
    @Operation(summary = "Get an image")
    public RestResponse<ImageView> getImage(@PathParam("id") String id) {
        return images.get(caller.tenantId(), ResourceId.IMAGE.require("id", id)).ok();
    }

    @PATCH
    @Path("{id}")
    @RolesAllowed(Role.Names.TENANT_MEMBER)
    @Consumes({"application/merge-patch+json", MediaType.APPLICATION_JSON})
    @Operation(summary = "Change an image's description or labels (JSON merge patch)")
    @RequestBody(content = @Content(schema = @Schema(implementation = ImagePatch.class)))
    public RestResponse<ImageView> patchImage(@PathParam("id") String id, @NotNull JsonNode body,
                                              @HeaderParam("If-Match") String ifMatch) {
        return images.patch(caller.tenantId(), ResourceId.IMAGE.require("id", id), body, ifMatch).ok();
    }

    @GET
    @Path("{id}/content")
    @RolesAllowed(Role.Names.TENANT_VIEWER)
    @Operation(summary = "Upload progress: how many bytes from offset 0 the server holds durably (resume from there)")
    public RestResponse<ContentService.ContentStatus> getImageContent(@PathParam("id") String id) {
        ContentService.ContentStatus status = content.status(caller.tenantId(), ResourceId.IMAGE.require("id", id));
        return RestResponse.ResponseBuilder.ok(status).header("Upload-Offset", status.receivedBytes()).build();
    }

    @POST
    @Path("{id}/disk-url")
    @RolesAllowed(Role.Names.TENANT_VIEWER)
    @Operation(summary = "Mint a short-lived signed URL of the image's disk, for clients that cannot send headers (iPXE, qemu)")
    public RestResponse<DiskUrl> createImageDiskUrl(@PathParam("id") String id, @Valid DiskUrlRequest body) {
        String imageId = ResourceId.IMAGE.require("id", id);
        String tenant = caller.tenantId();
        images.find(tenant, imageId);
        long ttl = body == null || body.ttlSeconds() == null ? 3600 : body.ttlSeconds();
        long expiresAt = java.time.Instant.now().getEpochSecond() + ttl;
        String path = "/api/v1/images/" + imageId + "/disk?" + signedUrls.query(tenant, imageId, null, null, expiresAt);
        return RestResponse.ResponseBuilder.<DiskUrl>create(RestResponse.Status.CREATED)
                .entity(new DiskUrl(path, java.time.Instant.ofEpochSecond(expiresAt))).build();
    }

    /** ttlSeconds: 1 s to 7 days, default 1 h. */
    public record DiskUrlRequest(@jakarta.validation.constraints.Min(1) @jakarta.validation.constraints.Max(SignedUrls.MAX_TTL_SECONDS) Long ttlSeconds) {
    }

    /** url is relative to the API's base URL. */
    public record DiskUrl(String url, java.time.Instant expiresAt) {
    }

    @DELETE
    @Path("{id}")
    @RolesAllowed(Role.Names.TENANT_MEMBER)
    @Operation(summary = "Delete an image; 409 while machines use it")
    public RestResponse<Void> deleteImage(@PathParam("id") String id, @HeaderParam("If-Match") String ifMatch) {
        String tenant = caller.tenantId();
        String imageId = ResourceId.IMAGE.require("id", id);
        images.delete(tenant, imageId, ifMatch);
        imageContent.forget(imageId);
        collector.collectLater(tenant);
        return RestResponse.noContent();
    }

    @GET
    @Path("{id}/boot-profile")
    @RolesAllowed(Role.Names.TENANT_VIEWER)
    @Operation(summary = "The image's learned boot order (inherited from its parent image while it has no boots of its own)")
    public BootProfileView getImageBootProfile(@PathParam("id") String id) {
        return boots.profile(caller.tenantId(), ResourceId.IMAGE.require("id", id));
    }
}

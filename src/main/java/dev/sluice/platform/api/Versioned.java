package dev.sluice.platform.api;

import jakarta.ws.rs.core.HttpHeaders;
import java.net.URI;
import org.jboss.resteasy.reactive.RestResponse;

/** A representation together with the version its ETag is derived from. */
public record Versioned<T>(T view, long version) {

    public RestResponse<T> ok() {
        return RestResponse.ResponseBuilder.ok(view).header(HttpHeaders.ETAG, EntityTag.of(version)).build();
    }

    public RestResponse<T> created(URI location) {
        return RestResponse.ResponseBuilder.<T>created(location).entity(view).header(HttpHeaders.ETAG, EntityTag.of(version)).build();
    }
}

package dev.sluice.boot;

import jakarta.annotation.security.PermitAll;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.HttpHeaders;
import java.util.Optional;
import java.util.regex.Pattern;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * {@code GET /boot/v1/ipxe?mac=${net0/mac}}: asked by network-booting firmware, which sends no credential. Always
 * 200 with an iPXE script (iPXE runs only a successful answer): a sanboot of the machine's image, or a refusal
 * that echoes a generic reason.
 */
@Path("/boot/v1/ipxe")
@Tag(name = "boot")
public class IpxeResource {
    /** host[:port] as a client may send it; anything else never reaches a script. */
    private static final Pattern HOST = Pattern.compile("[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?|\\[[0-9A-Fa-f:.]{2,45}](:[0-9]{1,5})?");

    @Inject
    BootService boots;
    @ConfigProperty(name = "sluice.boot.base-url")
    Optional<String> baseUrl;

    @GET
    @PermitAll
    @Produces("text/plain")
    @Operation(summary = "iPXE script for the machine with this MAC (no credential: firmware asks)")
    public String bootScript(@QueryParam("mac") String mac, @Context HttpHeaders headers) {
        String base = baseUrl.filter(s -> !s.isBlank()).orElse(null);
        if (base == null) {
            String host = headers.getHeaderString("Host");
            if (host == null || !HOST.matcher(host).matches()) {
                return IpxeScript.refuse(IpxeScript.NO_HOST);
            }
            base = "http://" + host;
        }
        return boots.ipxeScript(mac, base);
    }
}

package dev.sluice.boot;

/**
 * The iPXE scripts the boot endpoint answers with. Refusals echo a fixed, generic reason and exit, so a caller
 * learns nothing about machines, images or tenants; iPXE then falls back to the next boot device.
 */
final class IpxeScript {
    static final String NO_VALID_MAC = "Sluice: the boot request carries no valid MAC address";
    static final String NOTHING_TO_BOOT = "Sluice: no bootable image is assigned to this network card";
    static final String NO_HOST = "Sluice: the boot request carries no usable Host header";

    private IpxeScript() {
    }

    static String refuse(String reason) {
        return "#!ipxe\necho " + reason + "\nexit 1\n";
    }

    /** diskUrl is built by the server from checked parts only (no caller text reaches the script). */
    static String sanboot(String diskUrl) {
        return "#!ipxe\necho Sluice: starting the image from the network (remote boot)\nsanboot " + diskUrl + "\n";
    }
}

package dev.sluice.machine;

import java.util.Locale;

/** MAC addresses as iPXE sends them (${net0/mac}: aa:bb:cc:dd:ee:ff), accepted with ':' or '-'. */
public final class MacAddress {
    public static final String PATTERN = "[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}";
    public static final String MESSAGE = "must be a MAC address like 52:54:00:12:34:56";

    private MacAddress() {
    }

    public static String normalize(String mac) {
        return mac == null ? null : mac.replace('-', ':').toLowerCase(Locale.ROOT);
    }
}

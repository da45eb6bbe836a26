package dev.sluice.platform.api;

/** Shared input rules for resource names and labels (DNS-label style, so they are safe in URLs and hostnames). */
public final class Names {
    public static final String NAME_PATTERN = "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?";
    public static final String NAME_MESSAGE = "must be 1-63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit";
    public static final String LABEL_KEY_PATTERN = "[a-z0-9]([a-z0-9._/-]{0,61}[a-z0-9])?";
    public static final int MAX_LABELS = 64;
    public static final int MAX_LABEL_VALUE = 255;
    public static final int MAX_DESCRIPTION = 1024;

    private Names() {
    }
}

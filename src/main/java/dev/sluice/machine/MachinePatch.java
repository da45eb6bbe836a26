package dev.sluice.machine;

import java.util.Map;

/** Documentation shape of PATCH /machines/{id} (RFC 7396 merge patch): only these members may appear. */
public record MachinePatch(String name, String mac, String imageId, Map<String, String> labels) {
}

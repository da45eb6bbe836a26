package dev.sluice.image;

import java.util.Map;

/** Documentation shape of PATCH /images/{id} (RFC 7396 merge patch): only these members may appear. */
public record ImagePatch(String description, Map<String, String> labels) {
}

package dev.sluice.boot;

import java.util.List;

/**
 * The control plane's answer to an agent whose driver is up: the boot it now serves (report demand misses under
 * this id) and its prefetch priority (this boot's remote-phase reads, then the image's learned boot profile).
 */
public record HandoffView(String bootId, String imageId, List<Long> priority) {
}

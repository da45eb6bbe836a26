package dev.sluice.boot;

import java.util.List;

/**
 * An image's learned boot order: block indices, the blocks boots need soonest first. sourceImageId is the image
 * whose boots it was learned from (the image itself, or the nearest ancestor with boots: a snapshot inherits its
 * parent's profile until it has boots of its own); boots is how many boots were merged (0: nothing learned yet).
 */
public record BootProfileView(String imageId, String sourceImageId, int boots, List<Long> blocks) {
}

package dev.sluice.image;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.time.Instant;
import java.util.Map;

@JsonInclude(JsonInclude.Include.NON_NULL)
public record ImageView(String id, String name, String description, Map<String, String> labels, long sizeBytes,
                        int blockSize, long blockCount, ImageState state, String parentImageId, Usage usage,
                        Long receivedBytes, Instant createdAt, Instant updatedAt) {

    /**
     * Storage figures, fixed when the content is committed. logicalBytes = sizeBytes; zeroBlocks are not stored;
     * uniqueBlocks were stored first by this image; sharedBlocks were already in the tenant's repository (other
     * images, snapshots, or repeats within this image); storedBytes = what this image added to the store.
     */
    public record Usage(long logicalBytes, long zeroBlocks, long dataBlocks, long uniqueBlocks, long sharedBlocks, long storedBytes) {
    }

    public static ImageView of(Image i) {
        Usage usage = i.dataBlocks == null ? null
                : new Usage(i.sizeBytes, i.zeroBlocks, i.dataBlocks, i.newBlocks, i.dataBlocks - i.newBlocks, i.newBytes);
        Long received = i.state == ImageState.UPLOADING ? i.receivedBytes : null;
        return new ImageView(i.id, i.name, i.description, i.labels, i.sizeBytes, i.blockSize, i.blockCount(), i.state,
                i.parentImageId, usage, received, i.createdAt, i.updatedAt);
    }
}

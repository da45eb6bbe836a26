package dev.sluice.image;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.time.Instant;
import java.util.Map;

@JsonInclude(JsonInclude.Include.NON_NULL)
public record ImageView(String id, String name, String description, Map<String, String> labels, long sizeBytes,
                        int blockSize, long blockCount, ImageState state, String parentImageId, Instant createdAt,
                        Instant updatedAt) {
    public static ImageView of(Image i) {
        return new ImageView(i.id, i.name, i.description, i.labels, i.sizeBytes, i.blockSize, i.blockCount(), i.state,
                i.parentImageId, i.createdAt, i.updatedAt);
    }
}

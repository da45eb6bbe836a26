package dev.sluice.blockstream;

import dev.sluice.manifest.ImageManifest;

/** What the data plane needs of an AVAILABLE image: immutable, so it may be cached. */
public record ServedImage(String id, String tenantId, long sizeBytes, int blockSize, ImageManifest manifest, String etag) {

    public ServedImage(String id, String tenantId, long sizeBytes, int blockSize, ImageManifest manifest) {
        this(id, tenantId, sizeBytes, blockSize, manifest, "\"" + manifest.digest().hex() + "\"");
    }

    public long blockCount() {
        return manifest.blockCount();
    }

    public int blockLength(long index) {
        return (int) Math.min(blockSize, sizeBytes - index * blockSize);
    }

    /** etag: a strong validator for the disk representation (the manifest digest names the exact content). */
}

package dev.sluice.upload;

import dev.sluice.blockstore.BlockDigest;
import dev.sluice.blockstore.BlockStore;
import dev.sluice.image.Image;
import dev.sluice.image.ImageState;
import dev.sluice.manifest.ManifestFormat;
import dev.sluice.platform.problem.ApiException;
import dev.sluice.platform.problem.ProblemType;
import io.quarkus.hibernate.orm.panache.Panache;
import io.quarkus.narayana.jta.QuarkusTransaction;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.transaction.Transactional;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The durable side of image uploads. What is durable when:
 * <ul>
 * <li>a block is in the store before any segment naming it is recorded (the pipeline awaits each put);</li>
 * <li>a segment blob is in the store before its row is written; the row and the image's {@code receivedBytes}
 *     change in one transaction, so "how far the server got" never overstates what is stored;</li>
 * <li>the manifest blob is in the store before the image turns AVAILABLE, in one transaction with deleting the
 *     segment rows: the image is either uploading (with its progress) or available (with a complete manifest).</li>
 * </ul>
 * All methods may block.
 */
@ApplicationScoped
public class ContentService {
    @Inject
    BlockStore store;

    /** The part a request will write: blocks [startBlock, endBlock), and what to restore if it is rejected. */
    public record Part(String tenantId, String imageId, long sizeBytes, int blockSize, long startBlock, long endBlock,
                       long receivedBefore, List<UploadSegment> savedSegments, byte[] prefixEntries) {
        public long blockCount() {
            return (sizeBytes + blockSize - 1) / blockSize;
        }

        public long expectedBytes() {
            return Math.min(sizeBytes, endBlock * (long) blockSize) - startBlock * (long) blockSize;
        }

        public int blockLength(long index) {
            return (int) Math.min(blockSize, sizeBytes - index * blockSize);
        }
    }

    /** Upload progress as {@code GET …/content} reports it. */
    public record ContentStatus(String imageId, ImageState state, long sizeBytes, int blockSize, long receivedBytes) {
    }

    /**
     * Validates a part against the image and its progress. {@code range} is null for a whole-image upload.
     */
    @Transactional
    public Part begin(String tenantId, String imageId, ContentRange range, Long contentLength) {
        Image image = find(tenantId, imageId);
        if (image.state != ImageState.UPLOADING) {
            throw new ApiException(ProblemType.CONFLICT, "the image is " + image.state.wire() + "; content can only be uploaded while it is uploading");
        }
        long start = 0;
        long endExclusive = image.sizeBytes;
        if (range != null) {
            if (range.total() != null && range.total() != image.sizeBytes) {
                throw ApiException.field(ProblemType.INVALID_PARAMETER, "Content-Range", "total length must equal the image's sizeBytes " + image.sizeBytes);
            }
            start = range.first();
            endExclusive = range.last() + 1;
            if (endExclusive > image.sizeBytes) {
                throw new ApiException(ProblemType.RANGE_NOT_SATISFIABLE, "the part ends past sizeBytes " + image.sizeBytes);
            }
            if (start % image.blockSize != 0 || (endExclusive % image.blockSize != 0 && endExclusive != image.sizeBytes)) {
                throw ApiException.field(ProblemType.INVALID_PARAMETER, "Content-Range", "parts must start and end on block boundaries (blockSize " + image.blockSize + ")");
            }
            if (start > image.receivedBytes) {
                throw new ApiException(ProblemType.CONFLICT, "the part starts at " + start + " but the server has only " + image.receivedBytes
                        + " bytes; resume from there (GET the content resource)");
            }
        }
        if (contentLength != null && contentLength != endExclusive - start) {
            throw ApiException.field(ProblemType.INVALID_PARAMETER, "Content-Length", "is " + contentLength + " but the part is " + (endExclusive - start) + " bytes");
        }
        long startBlock = start / image.blockSize;
        long endBlock = (endExclusive + image.blockSize - 1) / image.blockSize;
        int firstSegment = (int) (startBlock / ManifestFormat.SEGMENT_ENTRIES);
        List<UploadSegment> saved = UploadSegment.<UploadSegment>list("imageId = ?1 and segmentNo >= ?2 order by segmentNo", imageId, firstSegment)
                .stream().map(UploadSegment::copy).toList();
        int prefix = (int) (startBlock % ManifestFormat.SEGMENT_ENTRIES);
        byte[] prefixEntries = new byte[prefix * BlockDigest.LENGTH];
        if (prefix > 0) {
            UploadSegment first = saved.isEmpty() ? null : saved.get(0);
            if (first == null || first.segmentNo != firstSegment || first.entries < prefix) {
                throw new ApiException(ProblemType.CONFLICT, "upload progress is inconsistent; restart the upload from offset 0");
            }
            byte[] blob = store.get(tenantId, BlockDigest.fromHex(first.digest))
                    .orElseThrow(() -> new ApiException(ProblemType.INTEGRITY, "an upload segment is missing from the block store"));
            System.arraycopy(blob, 0, prefixEntries, 0, prefixEntries.length);
        }
        return new Part(tenantId, imageId, image.sizeBytes, image.blockSize, startBlock, endBlock, image.receivedBytes, saved, prefixEntries);
    }

    /**
     * Records a (possibly partial) segment whose blocks are all durably stored. A partial segment never replaces a
     * longer one already recorded (a retried part that breaks off early must not lose progress).
     */
    public void recordSegment(Part part, int segmentNo, byte[] entries, int count, int zeroBlocks, int newBlocks, long newBytes) {
        byte[] blob = count * BlockDigest.LENGTH == entries.length ? entries : java.util.Arrays.copyOf(entries, count * BlockDigest.LENGTH);
        BlockDigest digest = BlockDigest.of(blob);
        store.put(part.tenantId(), digest, blob);
        QuarkusTransaction.requiringNew().run(() -> recordSegmentRow(part, segmentNo, digest.hex(), count, zeroBlocks, newBlocks, newBytes));
    }

    private void recordSegmentRow(Part part, int segmentNo, String digest, int count, int zeroBlocks, int newBlocks, long newBytes) {
        Image image = find(part.tenantId(), part.imageId());
        UploadSegment row = UploadSegment.findById(new UploadSegment.Key(part.imageId(), segmentNo));
        if (row != null && row.entries > count) {
            return;
        }
        boolean fresh = row == null;
        if (fresh) {
            row = new UploadSegment();
            row.imageId = part.imageId();
            row.segmentNo = segmentNo;
            row.tenantId = part.tenantId();
        }
        row.entries = count;
        row.digest = digest;
        row.zeroBlocks = zeroBlocks;
        row.newBlocks = newBlocks;
        row.newBytes = newBytes;
        row.updatedAt = Instant.now();
        if (fresh) {
            row.persist();
        }
        long covered = Math.min(image.sizeBytes, ((long) segmentNo * ManifestFormat.SEGMENT_ENTRIES + count) * image.blockSize);
        image.receivedBytes = Math.max(image.receivedBytes, covered);
    }

    /** Puts progress back exactly as it was before a rejected part. */
    @Transactional
    public void rollback(Part part) {
        int firstSegment = (int) (part.startBlock() / ManifestFormat.SEGMENT_ENTRIES);
        UploadSegment.delete("imageId = ?1 and segmentNo >= ?2", part.imageId(), firstSegment);
        Panache.getEntityManager().flush();
        for (UploadSegment s : part.savedSegments()) {
            s.copy().persist();
        }
        Image image = find(part.tenantId(), part.imageId());
        image.receivedBytes = part.receivedBefore();
    }

    /**
     * Turns a fully received upload into an AVAILABLE image with a committed manifest. Returns false if the
     * upload is not complete (or the image is no longer uploading).
     */
    @Transactional
    public boolean commit(String tenantId, String imageId) {
        Image image = find(tenantId, imageId);
        if (image.state != ImageState.UPLOADING || image.receivedBytes != image.sizeBytes) {
            return false;
        }
        long blockCount = image.blockCount();
        long segmentCount = ManifestFormat.segmentCount(blockCount);
        List<UploadSegment> rows = UploadSegment.list("imageId = ?1 order by segmentNo", imageId);
        if (rows.size() != segmentCount) {
            throw new ApiException(ProblemType.CONFLICT, "upload progress is inconsistent (" + rows.size() + " of " + segmentCount + " segments); restart the upload");
        }
        List<BlockDigest> segments = new ArrayList<>(rows.size());
        long zero = 0;
        long fresh = 0;
        long freshBytes = 0;
        for (int i = 0; i < rows.size(); i++) {
            UploadSegment row = rows.get(i);
            if (row.segmentNo != i || row.entries != ManifestFormat.entriesInSegment(blockCount, i)) {
                throw new ApiException(ProblemType.CONFLICT, "upload progress is inconsistent at segment " + i + "; restart the upload");
            }
            segments.add(BlockDigest.fromHex(row.digest));
            zero += row.zeroBlocks;
            fresh += row.newBlocks;
            freshBytes += row.newBytes;
        }
        byte[] manifest = ManifestFormat.encodeManifest(blockCount, image.blockSize, segments);
        BlockDigest manifestDigest = BlockDigest.of(manifest);
        store.put(tenantId, manifestDigest, manifest);
        image.manifestDigest = manifestDigest.hex();
        image.state = ImageState.AVAILABLE;
        image.zeroBlocks = zero;
        image.dataBlocks = blockCount - zero;
        image.newBlocks = fresh;
        image.newBytes = freshBytes;
        image.updatedAt = Instant.now();
        UploadSegment.delete("imageId", imageId);
        return true;
    }

    @Transactional
    public ContentStatus status(String tenantId, String imageId) {
        Image image = find(tenantId, imageId);
        long received = image.state == ImageState.UPLOADING ? image.receivedBytes : image.sizeBytes;
        return new ContentStatus(image.id, image.state, image.sizeBytes, image.blockSize, received);
    }

    private static Image find(String tenantId, String imageId) {
        Image image = Image.find("id = ?1 and tenantId = ?2", imageId, tenantId).firstResult();
        if (image == null) {
            throw ApiException.notFound("image " + imageId);
        }
        return image;
    }
}

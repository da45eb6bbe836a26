package dev.sluice.boot;

import dev.sluice.blockstream.SignedUrls;
import dev.sluice.image.Image;
import dev.sluice.image.ImageState;
import dev.sluice.machine.MacAddress;
import dev.sluice.machine.Machine;
import dev.sluice.machine.MachineService;
import dev.sluice.machine.MachineState;
import dev.sluice.platform.api.ResourceId;
import dev.sluice.platform.cache.WeightedLru;
import dev.sluice.platform.problem.ApiException;
import dev.sluice.platform.problem.ProblemType;
import io.quarkus.hibernate.orm.panache.Panache;
import io.quarkus.narayana.jta.QuarkusTransaction;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.persistence.LockModeType;
import jakarta.transaction.Transactional;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Remote boot (DESIGN §5): the iPXE script for a MAC, the boots of a machine, the hand-off to the agent, the
 * agent's demand misses, and the learned boot profile of an image.
 *
 * <p>The profile is derived on read from the first touches of the image's last {@code sluice.boot.profile-boots}
 * boots that recorded any: blocks ordered by their mean first-touch position (seq) across those boots, so what
 * every boot needs early comes first and a block one boot touched late comes late. No merge state to keep
 * consistent: the merge is only remembered per image for as long as the boots it read are unchanged, and each boot's
 * rows are read once (see {@code mergedOrders} and {@code traceRows}).
 */
@ApplicationScoped
public class BootService {
    /** Older boots of a machine are deleted when a new one starts (an unauthenticated endpoint creates boots). */
    static final int BOOTS_KEPT_PER_MACHINE = 50;
    /** Ancestors searched for a profile to inherit (snapshot of a snapshot of …). */
    static final int MAX_ANCESTORS = 16;
    /** The image's boots that recorded first touches, newest first (portable SQL: PostgreSQL and H2). */
    static final String TRACED_BOOTS_SQL = "SELECT id, remote_blocks + agent_blocks FROM boots WHERE image_id = ?1"
            + " AND remote_blocks + agent_blocks > 0 ORDER BY started_at DESC, id DESC";
    /** Part of a boot's first touches, in order: seq in [?2, ?3). */
    static final String TRACE_ROWS_SQL = "SELECT block_index FROM boot_reads WHERE boot_id = ?1 AND seq >= ?2 AND seq < ?3 ORDER BY seq";

    @ConfigProperty(name = "sluice.boot.url-ttl", defaultValue = "PT30M")
    Duration urlTtl;
    @ConfigProperty(name = "sluice.boot.learning-window", defaultValue = "PT10M")
    Duration learningWindow;
    @ConfigProperty(name = "sluice.boot.profile-boots", defaultValue = "20")
    int profileBoots;
    @ConfigProperty(name = "sluice.boot.trace-cap", defaultValue = "16384")
    int cap;

    /**
     * Merged orders by source image, used while the image's traced boots and their counts are exactly those an entry
     * was computed from: traces are append-only and counted on their boot, so equal keys mean equal rows, on any
     * replica. Without it every hand-off (every agent start, of every machine of the image) merged every trace again.
     */
    private final WeightedLru<String, MergedOrder> mergedOrders = new WeightedLru<>(1L << 20, m -> m.order().size() + 16L);
    /**
     * Boots' first touches as read so far, by boot id. A trace only grows (seq 0, 1, … in the order of the reads), so
     * a longer count reads only the new rows. The merge used to be one grouped query over all the boots' rows (up to
     * profile-boots × trace-cap: 20 × 16384 rows took H2 ~0.5 s of CPU, on the hand-off's critical path, after every
     * new boot); now each row is read once and the merge runs here.
     */
    private final WeightedLru<String, long[]> traceRows = new WeightedLru<>(1L << 21, t -> t.length + 16L);

    @Inject
    SignedUrls signedUrls;
    @Inject
    BootTraces traces;
    @Inject
    BootReads reads;
    @Inject
    MachineService machines;

    /**
     * The iPXE script for the machine with {@code rawMac} (as iPXE sends {@code ${net0/mac}}): sanboot its image
     * from a signed URL bound to the machine and a new boot, valid for {@code sluice.boot.url-ttl}. baseUrl is
     * scheme://host[:port] as the firmware reached this server, already checked by the caller.
     */
    @Transactional
    public String ipxeScript(String rawMac, String baseUrl) {
        if (rawMac == null || rawMac.length() != 17 || !rawMac.matches(MacAddress.PATTERN)) {
            return IpxeScript.refuse(IpxeScript.NO_VALID_MAC);
        }
        Machine m = Machine.<Machine>find("mac", MacAddress.normalize(rawMac)).withLock(LockModeType.PESSIMISTIC_WRITE).firstResult();
        Image image = m == null ? null : Image.findById(m.imageId);
        if (image == null || image.state != ImageState.AVAILABLE) {
            // Unknown MAC and a machine whose image is not ready look the same from outside.
            return IpxeScript.refuse(IpxeScript.NOTHING_TO_BOOT);
        }
        Instant now = Instant.now();
        Boot boot = startBoot(m, image.id, BootPhase.REMOTE, now);
        m.state = MachineState.BOOTING;
        m.updatedAt = now;
        long expiresAt = now.plus(urlTtl).getEpochSecond();
        return IpxeScript.sanboot(baseUrl + "/api/v1/images/" + image.id + "/disk?"
                + signedUrls.query(m.tenantId, image.id, m.id, boot.id, expiresAt));
    }

    @Transactional
    public List<BootView> list(String tenantId, String machineId) {
        machines.find(tenantId, machineId);
        return Boot.<Boot>find("machineId = ?1 and tenantId = ?2 order by startedAt desc, id desc", machineId, tenantId)
                .page(0, BOOTS_KEPT_PER_MACHINE).stream().map(BootView::of).toList();
    }

    /**
     * The machine's agent reports that its driver is up: the machine's current remote boot (if any) ends its
     * remote phase, its last traced reads are written first; without one (hypervisor mode, agent restart) a boot
     * starts directly in the agent phase. The machine is RUNNING. The answer's priority: this boot's remote reads,
     * then the image's learned profile, at most trace-cap blocks.
     */
    public HandoffView handoff(String tenantId, String machineId) {
        String remote = QuarkusTransaction.requiringNew().call(() -> {
            Machine m = machines.find(tenantId, machineId);
            Boot latest = latestBoot(m.id);
            return latest != null && latest.phase == BootPhase.REMOTE && latest.imageId.equals(m.imageId) ? latest.id : null;
        });
        if (remote != null) {
            traces.forget(remote);
        }
        return QuarkusTransaction.requiringNew().call(() -> {
            Machine m = machines.find(tenantId, machineId);
            Instant now = Instant.now();
            Boot boot = remote == null ? null : reads.lock(remote);
            if (boot == null || boot.phase != BootPhase.REMOTE) {
                boot = startBoot(m, m.imageId, BootPhase.AGENT, now);
            }
            boot.phase = BootPhase.AGENT;
            boot.handedOffAt = now;
            m.state = MachineState.RUNNING;
            m.updatedAt = now;
            Set<Long> priority = new LinkedHashSet<>(reads.trace(boot.id));
            for (Long b : learnedProfile(Image.findById(m.imageId)).blocks()) {
                if (priority.size() >= cap) {
                    break;
                }
                priority.add(b);
            }
            return new HandoffView(boot.id, m.imageId, List.copyOf(priority));
        });
    }

    /** Appends an agent's first touches (the blocks its guest read first, in order) to a boot it was handed, within the learning window. */
    @Transactional
    public void reportMisses(String tenantId, String machineId, BootMissesReport report) {
        machines.find(tenantId, machineId);
        if (!ResourceId.BOOT.matches(report.bootId())) {
            throw ApiException.field(ProblemType.VALIDATION, "bootId", "not a well-formed boot id");
        }
        Boot boot = reads.lock(report.bootId());
        if (boot == null || !boot.machineId.equals(machineId) || !boot.tenantId.equals(tenantId)) {
            throw ApiException.field(ProblemType.VALIDATION, "bootId", "no such boot of this machine");
        }
        if (boot.phase != BootPhase.AGENT) {
            throw new ApiException(ProblemType.CONFLICT, "the boot has not been handed off to an agent");
        }
        if (Instant.now().isAfter(boot.handedOffAt.plus(learningWindow))) {
            throw new ApiException(ProblemType.CONFLICT, "the boot's learning window (" + learningWindow + " after the hand-off) has closed");
        }
        Image image = Image.findById(boot.imageId);
        long blockCount = (image.sizeBytes + image.blockSize - 1) / image.blockSize;
        for (Long b : report.blocks()) {
            if (b < 0 || b >= blockCount) {
                throw ApiException.field(ProblemType.VALIDATION, "blocks", "block indices must lie in [0, " + blockCount + ")");
            }
        }
        reads.append(boot, report.blocks(), BootReads.AGENT);
    }

    /** The image's learned boot order (or its nearest ancestor's). 404 if the image is not the tenant's. */
    @Transactional
    public BootProfileView profile(String tenantId, String imageId) {
        Image image = Image.find("id = ?1 and tenantId = ?2", imageId, tenantId).firstResult();
        if (image == null) {
            throw ApiException.notFound("image " + imageId);
        }
        return learnedProfile(image);
    }

    private BootProfileView learnedProfile(Image image) {
        Image source = image;
        for (int depth = 0; source != null && depth <= MAX_ANCESTORS; depth++) {
            List<TracedBoot> boots = recentTracedBoots(source.id);
            if (!boots.isEmpty()) {
                MergedOrder cached = mergedOrders.get(source.id);
                if (cached == null || !cached.boots().equals(boots)) {
                    cached = new MergedOrder(boots, mergedOrder(boots));
                    mergedOrders.put(source.id, cached);
                }
                return new BootProfileView(image.id, source.id, boots.size(), cached.order());
            }
            String parent = source.parentImageId;
            source = parent == null ? null : Image.find("id = ?1 and tenantId = ?2", parent, image.tenantId).firstResult();
        }
        return new BootProfileView(image.id, image.id, 0, List.of());
    }

    /** A boot whose first touches feed the profile, and how many it has recorded so far (they are append-only). */
    record TracedBoot(String id, long blocks) {
    }

    /** An image's merged order and the traced boots (with their counts) it was computed from. */
    private record MergedOrder(List<TracedBoot> boots, List<Long> order) {
    }

    @SuppressWarnings("unchecked")
    private List<TracedBoot> recentTracedBoots(String imageId) {
        List<Object[]> rows = Panache.getEntityManager().createNativeQuery(TRACED_BOOTS_SQL)
                .setParameter(1, imageId).setMaxResults(profileBoots).getResultList();
        return rows.stream().map(r -> new TracedBoot((String) r[0], ((Number) r[1]).longValue())).toList();
    }

    private List<Long> mergedOrder(List<TracedBoot> boots) {
        List<long[]> traces = new ArrayList<>(boots.size());
        for (TracedBoot b : boots) {
            traces.add(trace(b));
        }
        return mergeByMeanPosition(traces, cap);
    }

    /** The boot's first {@code b.blocks()} touches, reading only the rows not cached yet. */
    @SuppressWarnings("unchecked")
    private long[] trace(TracedBoot b) {
        long[] known = traceRows.get(b.id());
        if (known != null && known.length == b.blocks()) {
            return known;
        }
        int from = known != null && known.length < b.blocks() ? known.length : 0;
        List<Number> rows = Panache.getEntityManager().createNativeQuery(TRACE_ROWS_SQL)
                .setParameter(1, b.id()).setParameter(2, from).setParameter(3, b.blocks()).getResultList();
        long[] trace = from == 0 ? new long[rows.size()] : java.util.Arrays.copyOf(known, from + rows.size());
        for (int i = 0; i < rows.size(); i++) {
            trace[from + i] = rows.get(i).longValue();
        }
        traceRows.put(b.id(), trace);
        return trace;
    }

    /**
     * Blocks by their mean first-touch position (seq) over the traces that touched them, ties by block index; at most
     * {@code cap}. (What {@code AVG(seq) ... GROUP BY block_index ORDER BY pos, block_index} answered.)
     */
    static List<Long> mergeByMeanPosition(List<long[]> traces, int cap) {
        java.util.HashMap<Long, long[]> sums = new java.util.HashMap<>();
        for (long[] trace : traces) {
            for (int seq = 0; seq < trace.length; seq++) {
                long[] sum = sums.computeIfAbsent(trace[seq], k -> new long[2]);
                sum[0] += seq;
                sum[1]++;
            }
        }
        List<java.util.Map.Entry<Long, long[]>> blocks = new ArrayList<>(sums.entrySet());
        blocks.sort(java.util.Comparator.<java.util.Map.Entry<Long, long[]>>comparingDouble(e -> (double) e.getValue()[0] / e.getValue()[1])
                .thenComparing(java.util.Map.Entry::getKey));
        List<Long> out = new ArrayList<>(Math.min(cap, blocks.size()));
        for (int i = 0; i < blocks.size() && i < cap; i++) {
            out.add(blocks.get(i).getKey());
        }
        return out;
    }

    private static Boot latestBoot(String machineId) {
        return Boot.<Boot>find("machineId = ?1 order by startedAt desc, id desc", machineId).firstResult();
    }

    /** A new boot of machine {@code m} (persisted); only the newest boots per machine are kept. */
    private static Boot startBoot(Machine m, String imageId, BootPhase phase, Instant now) {
        Boot boot = new Boot();
        boot.id = ResourceId.BOOT.next();
        boot.tenantId = m.tenantId;
        boot.machineId = m.id;
        boot.imageId = imageId;
        boot.phase = phase;
        boot.startedAt = now;
        boot.persist();
        pruneOldBoots(m.id);
        return boot;
    }

    private static void pruneOldBoots(String machineId) {
        List<Boot> old = Boot.<Boot>find("machineId = ?1 order by startedAt desc, id desc", machineId)
                .page(1, BOOTS_KEPT_PER_MACHINE).list();
        // page(1, n) skips the newest n boots: what is left is over the limit.
        old.forEach(Boot::delete);
    }
}

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
 * consistent: the grouped query (over at most profile-boots × trace-cap rows) is only remembered per image for as
 * long as the boots it read are unchanged (see {@code mergedOrders}).
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
    /** The merged order: blocks by mean first-touch position over the given boots. */
    static final String MERGED_ORDER_SQL = "SELECT block_index, AVG(CAST(seq AS DOUBLE PRECISION)) AS pos"
            + " FROM boot_reads WHERE boot_id IN (?1) GROUP BY block_index ORDER BY pos, block_index";

    @ConfigProperty(name = "sluice.boot.url-ttl", defaultValue = "PT30M")
    Duration urlTtl;
    @ConfigProperty(name = "sluice.boot.learning-window", defaultValue = "PT10M")
    Duration learningWindow;
    @ConfigProperty(name = "sluice.boot.profile-boots", defaultValue = "20")
    int profileBoots;
    @ConfigProperty(name = "sluice.boot.trace-cap", defaultValue = "16384")
    int cap;

    /**
     * Merged orders by source image. The grouped query reads up to profile-boots × trace-cap rows (measured: 150 ms
     * of CPU with 8 boots of 16384 blocks on H2), and every hand-off of every machine of the image asked it again.
     * An entry is used only while the image's traced boots and their counts are exactly those it was computed from:
     * traces are append-only and counted on their boot, so equal keys mean equal rows, on any replica.
     */
    private final WeightedLru<String, MergedOrder> mergedOrders = new WeightedLru<>(1L << 20, m -> m.order().size() + 16L);

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
                    cached = new MergedOrder(boots, mergedOrder(boots.stream().map(TracedBoot::id).toList()));
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

    @SuppressWarnings("unchecked")
    private List<Long> mergedOrder(List<String> bootIds) {
        List<Object[]> rows = Panache.getEntityManager().createNativeQuery(MERGED_ORDER_SQL)
                .setParameter(1, bootIds).setMaxResults(cap).getResultList();
        List<Long> out = new ArrayList<>(rows.size());
        for (Object[] row : rows) {
            out.add(((Number) row[0]).longValue());
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

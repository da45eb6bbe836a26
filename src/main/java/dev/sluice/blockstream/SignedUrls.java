package dev.sluice.blockstream;

import dev.sluice.platform.api.ResourceId;
import dev.sluice.platform.cache.WeightedLru;
import dev.sluice.platform.problem.ApiException;
import dev.sluice.platform.problem.ProblemType;
import io.quarkus.narayana.jta.QuarkusTransaction;
import jakarta.enterprise.context.ApplicationScoped;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.Base64;
import java.util.Optional;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Short-lived signed disk URLs for clients that cannot send headers (iPXE firmware, qemu's HTTP driver):
 * {@code ?exp=<unix seconds>&sig=<base64url HMAC-SHA256>} over "disk", tenant, image, expiry and an optional
 * machine binding; a remote-boot URL is also bound to its boot ({@code &boot=}), so its reads land in that
 * boot's read trace. The key comes from SLUICE_URL_SIGNING_KEY or, by default, is generated once and kept in
 * the database so every replica verifies what any replica signed.
 */
@ApplicationScoped
public class SignedUrls {
    public static final long MAX_TTL_SECONDS = 7 * 24 * 3600;
    private static final String KEY_NAME = "disk-url-signing";

    @ConfigProperty(name = "sluice.url-signing-key")
    Optional<String> configuredKey;

    private volatile byte[] key;
    /** A keyed MAC per thread: verification runs on event loops for every disk request, so no per-call setup. */
    private final ThreadLocal<Mac> macs = ThreadLocal.withInitial(() -> {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key(), "HmacSHA256"));
            return mac;
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    });

    /**
     * Signatures already verified, by their exact query parameters, with their expiry: a disk is read with one URL
     * tens of thousands of times a second, and an HMAC per request is most of the cost of a small range read. Only
     * valid signatures enter; the expiry is still checked on every use.
     */
    private record Verified(String tenantId, String imageId, String exp, String machineId, String bootId, String sig) {
    }

    private final WeightedLru<Verified, Long> verified = new WeightedLru<>(4096, e -> 1);

    /** The grant a valid signature carries. */
    public record Grant(String tenantId, String imageId, String machineId, String bootId, long expiresAt) {
    }

    /** Loads the key at start, so that verifying never blocks (it runs on the event loop). */
    void load(@jakarta.enterprise.event.Observes io.quarkus.runtime.StartupEvent event) {
        key();
    }

    public String sign(String tenantId, String imageId, String machineId, String bootId, long expiresAt) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(mac(payload(tenantId, imageId, machineId, bootId, expiresAt)));
    }

    /** Query string (without '?') for the disk URL of an image; machineId and bootId may be null (unbound). */
    public String query(String tenantId, String imageId, String machineId, String bootId, long expiresAt) {
        StringBuilder q = new StringBuilder("exp=").append(expiresAt);
        if (machineId != null) {
            q.append("&machine=").append(machineId);
        }
        if (bootId != null) {
            q.append("&boot=").append(bootId);
        }
        return q.append("&sig=").append(sign(tenantId, imageId, machineId, bootId, expiresAt)).toString();
    }

    /**
     * Verifies a signature for {@code imageId} owned by {@code tenantId}. Expired → 401, forged → 403.
     */
    public Grant verify(String tenantId, String imageId, String exp, String machineId, String bootId, String sig) {
        Verified key = new Verified(tenantId, imageId, exp, machineId, bootId, sig);
        Long known = verified.get(key);
        if (known != null) {
            return grant(tenantId, imageId, machineId, bootId, known);
        }
        Grant grant = verifyMac(tenantId, imageId, exp, machineId, bootId, sig);
        verified.put(key, grant.expiresAt());
        return grant;
    }

    private Grant verifyMac(String tenantId, String imageId, String exp, String machineId, String bootId, String sig) {
        long expiresAt;
        try {
            expiresAt = Long.parseLong(exp);
        } catch (NumberFormatException | NullPointerException e) {
            throw ApiException.field(ProblemType.INVALID_PARAMETER, "exp", "not a unix time");
        }
        if ((machineId != null && !ResourceId.MACHINE.matches(machineId)) || (bootId != null && !ResourceId.BOOT.matches(bootId))) {
            throw new ApiException(ProblemType.FORBIDDEN, "the URL signature is not valid");
        }
        byte[] given;
        try {
            given = Base64.getUrlDecoder().decode(sig == null ? "" : sig);
        } catch (IllegalArgumentException e) {
            throw new ApiException(ProblemType.FORBIDDEN, "the URL signature is not valid");
        }
        byte[] expected = mac(payload(tenantId, imageId, machineId, bootId, expiresAt));
        if (!MessageDigest.isEqual(expected, given)) {
            throw new ApiException(ProblemType.FORBIDDEN, "the URL signature is not valid");
        }
        return grant(tenantId, imageId, machineId, bootId, expiresAt);
    }

    private static Grant grant(String tenantId, String imageId, String machineId, String bootId, long expiresAt) {
        if (System.currentTimeMillis() / 1000 > expiresAt) {
            throw new ApiException(ProblemType.UNAUTHENTICATED, "the signed URL has expired");
        }
        return new Grant(tenantId, imageId, machineId, bootId, expiresAt);
    }

    /** Unbound and machine-bound URLs keep the payload they always had; a boot binding is appended. */
    private static String payload(String tenantId, String imageId, String machineId, String bootId, long expiresAt) {
        String base = "disk\n" + tenantId + "\n" + imageId + "\n" + (machineId == null ? "" : machineId) + "\n" + expiresAt;
        return bootId == null ? base : base + "\nboot\n" + bootId;
    }

    private byte[] mac(String payload) {
        return macs.get().doFinal(payload.getBytes(StandardCharsets.UTF_8));
    }

    /** May block on first use (database). */
    private byte[] key() {
        byte[] k = key;
        if (k != null) {
            return k;
        }
        synchronized (this) {
            if (key == null) {
                key = configuredKey.filter(s -> !s.isBlank()).map(s -> s.getBytes(StandardCharsets.UTF_8)).orElseGet(this::sharedKey);
            }
            return key;
        }
    }

    private byte[] sharedKey() {
        String stored = QuarkusTransaction.requiringNew().call(() -> {
            ServerSecret s = ServerSecret.findById(KEY_NAME);
            return s == null ? null : s.secret;
        });
        if (stored == null) {
            byte[] fresh = new byte[32];
            new SecureRandom().nextBytes(fresh);
            try {
                QuarkusTransaction.requiringNew().run(() -> {
                    ServerSecret s = new ServerSecret();
                    s.name = KEY_NAME;
                    s.secret = Base64.getEncoder().encodeToString(fresh);
                    s.createdAt = Instant.now();
                    s.persist();
                });
            } catch (RuntimeException raceLost) {
                // Another replica created it first: use theirs.
            }
            stored = QuarkusTransaction.requiringNew().call(() -> ServerSecret.<ServerSecret>findById(KEY_NAME).secret);
        }
        return Base64.getDecoder().decode(stored);
    }
}

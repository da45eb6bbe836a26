package dev.sluice.token;

import dev.sluice.platform.api.EntityTag;
import dev.sluice.platform.api.Page;
import dev.sluice.platform.api.Versioned;
import dev.sluice.platform.api.PageRequest;
import dev.sluice.platform.api.ResourceId;
import dev.sluice.platform.problem.ApiException;
import dev.sluice.platform.problem.ProblemType;
import dev.sluice.platform.security.Role;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.transaction.Transactional;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Optional;

/**
 * Issues, verifies and revokes API tokens. A secret is 32 random bytes ({@code slc_} + base64url); because it
 * has full entropy a single SHA-256 is the right hash (a slow password hash would add latency to every request
 * without adding security). Only the hash is stored; the secret is returned once, by {@link #issue}.
 */
@ApplicationScoped
public class TokenService {
    public static final String SECRET_PREFIX = "slc_";
    private static final SecureRandom RANDOM = new SecureRandom();

    /** What a verified token grants. */
    public record Grant(String tokenId, String tenantId, Role role, String machineId) {
    }

    public record Issued(ApiToken token, String secret) {
    }

    @Transactional
    public Optional<Grant> verify(String secret) {
        ApiToken token = ApiToken.find("tokenHash", hash(secret)).firstResult();
        if (token == null || !token.isActive(Instant.now())) {
            return Optional.empty();
        }
        return Role.fromWire(token.role).map(role -> new Grant(token.id, token.tenantId, role, token.machineId));
    }

    /** tenantId null issues a platform token. The caller has already checked it may grant {@code role}. */
    @Transactional
    public Issued issue(String tenantId, String name, Role role, Instant expiresAt, String machineId) {
        if (expiresAt != null && !expiresAt.isAfter(Instant.now())) {
            throw ApiException.field(ProblemType.VALIDATION, "expiresAt", "must be in the future");
        }
        String secret = generateSecret();
        ApiToken token = new ApiToken();
        token.id = ResourceId.TOKEN.next();
        token.tenantId = tenantId;
        token.name = name;
        token.role = role.wireName();
        token.machineId = machineId;
        token.tokenHash = hash(secret);
        token.expiresAt = expiresAt;
        token.createdAt = Instant.now();
        token.updatedAt = token.createdAt;
        token.persist();
        return new Issued(token, secret);
    }

    @Transactional
    public Page<TokenView> list(String tenantId, PageRequest page) {
        var rows = tenantId == null
                ? ApiToken.<ApiToken>find("tenantId is null and id > ?1 order by id", page.afterOrStart())
                : ApiToken.<ApiToken>find("tenantId = ?1 and id > ?2 order by id", tenantId, page.afterOrStart());
        return Page.of(rows.page(0, page.pageSize() + 1).list(), page, ResourceId.TOKEN, t -> t.id, TokenView::of);
    }

    @Transactional
    public Versioned<TokenView> get(String tenantId, String id) {
        ApiToken token = find(tenantId, id);
        return new Versioned<>(TokenView.of(token), token.version);
    }

    /** Revocation is immediate: the next request with the token fails. Revoking twice is a no-op. */
    @Transactional
    public void revoke(String tenantId, String id, String ifMatch) {
        ApiToken token = find(tenantId, id);
        EntityTag.checkIfMatch(ifMatch, token.version);
        if (token.revokedAt == null) {
            token.revokedAt = Instant.now();
            token.updatedAt = token.revokedAt;
        }
    }

    private ApiToken find(String tenantId, String id) {
        ApiToken token = ApiToken.findById(id);
        boolean visible = token != null && (tenantId == null ? token.tenantId == null : tenantId.equals(token.tenantId));
        if (!visible) {
            throw ApiException.notFound("token " + id);
        }
        return token;
    }

    /**
     * Makes {@code secret} a platform-admin token (the SLUICE_BOOTSTRAP_TOKEN contract). The row has a fixed
     * name so a changed variable replaces the old secret rather than adding a second one.
     */
    @Transactional
    public void ensureBootstrap(String secret) {
        String hash = hash(secret);
        ApiToken existing = ApiToken.find("tenantId is null and name = ?1", BOOTSTRAP_NAME).firstResult();
        if (existing == null) {
            ApiToken token = new ApiToken();
            token.id = ResourceId.TOKEN.next();
            token.name = BOOTSTRAP_NAME;
            token.role = Role.PLATFORM_ADMIN.wireName();
            token.tokenHash = hash;
            token.createdAt = Instant.now();
            token.updatedAt = token.createdAt;
            token.persist();
        } else if (!existing.tokenHash.equals(hash) || existing.revokedAt != null) {
            existing.tokenHash = hash;
            existing.revokedAt = null;
            existing.expiresAt = null;
            existing.updatedAt = Instant.now();
        }
    }

    /** True once a bootstrap token exists; a generated one is then never printed again. */
    @Transactional
    public boolean hasBootstrap() {
        return ApiToken.count("tenantId is null and name = ?1", BOOTSTRAP_NAME) > 0;
    }

    public static final String BOOTSTRAP_NAME = "bootstrap";

    public static String generateSecret() {
        return SECRET_PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(randomBytes(32));
    }

    public static String hash(String secret) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        RANDOM.nextBytes(b);
        return b;
    }
}

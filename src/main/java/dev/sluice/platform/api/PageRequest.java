package dev.sluice.platform.api;

import dev.sluice.platform.problem.ApiException;
import dev.sluice.platform.problem.ProblemType;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * Cursor pagination. A page token is opaque to clients: base64url of "{kind}:{last id}". Because ids sort by
 * creation time, "id greater than the cursor" is a stable, index-backed page boundary that neither skips nor
 * repeats rows inserted or deleted between calls. Tokens never carry a tenant: the query is always scoped to
 * the caller's tenant, so a token from another tenant only ever selects rows of the caller's own.
 */
public record PageRequest(int pageSize, String after) {
    public static final int DEFAULT_SIZE = 50;
    public static final int MAX_SIZE = 200;

    /** Parses the raw query parameters, so that "abc" is a 400 naming pageSize rather than a JAX-RS 404. */
    public static PageRequest of(String pageSize, String pageToken, ResourceId kind) {
        int size;
        try {
            size = pageSize == null || pageSize.isEmpty() ? DEFAULT_SIZE : Integer.parseInt(pageSize);
        } catch (NumberFormatException e) {
            size = -1;
        }
        if (size < 1 || size > MAX_SIZE) {
            throw ApiException.field(ProblemType.INVALID_PARAMETER, "pageSize", "must be between 1 and " + MAX_SIZE);
        }
        if (pageToken == null || pageToken.isEmpty()) {
            return new PageRequest(size, null);
        }
        String decoded;
        try {
            decoded = new String(Base64.getUrlDecoder().decode(pageToken), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw ApiException.field(ProblemType.INVALID_PARAMETER, "pageToken", "not a page token issued by this API");
        }
        String prefix = kind.prefix() + ":";
        if (!decoded.startsWith(prefix) || !kind.matches(decoded.substring(prefix.length()))) {
            throw ApiException.field(ProblemType.INVALID_PARAMETER, "pageToken", "not a page token issued by this API");
        }
        return new PageRequest(size, decoded.substring(prefix.length()));
    }

    public static String tokenAfter(ResourceId kind, String lastId) {
        return Base64.getUrlEncoder().withoutPadding()
                .encodeToString((kind.prefix() + ":" + lastId).getBytes(StandardCharsets.UTF_8));
    }

    /** The lower bound for "id > ?": the empty string sorts before every id. */
    public String afterOrStart() {
        return after == null ? "" : after;
    }
}

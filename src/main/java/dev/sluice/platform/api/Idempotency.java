package dev.sluice.platform.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.platform.problem.ApiException;
import dev.sluice.platform.problem.ProblemType;
import dev.sluice.platform.security.Caller;
import io.quarkus.narayana.jta.QuarkusTransaction;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import org.jboss.resteasy.reactive.RestResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * Idempotency-Key for POST. Per caller scope (tenant) and key:
 * <ul>
 * <li>first request: a row IN_PROGRESS is committed <em>before</em> the action runs, so a concurrent duplicate
 *     sees it (the primary key makes the claim atomic) and gets 409 instead of running twice;</li>
 * <li>after success the response (status, body, Location, ETag) is stored and replayed for the same key and
 *     the same request fingerprint; a different fingerprint gets 422;</li>
 * <li>if the action fails the claim is released, so the client may retry with the same key;</li>
 * <li>a claim older than {@link #ABANDONED_AFTER} (the server died mid-request) may be taken over, and records
 *     expire after {@link #RETENTION}.</li>
 * </ul>
 * A top-level {@code secret} field is never stored: a replay of a token creation omits it.
 */
@ApplicationScoped
public class Idempotency {
    public static final String HEADER = "Idempotency-Key";
    public static final String REPLAYED_HEADER = "Idempotent-Replayed";
    static final Duration ABANDONED_AFTER = Duration.ofMinutes(2);
    static final Duration RETENTION = Duration.ofHours(24);
    private static final Pattern KEY = Pattern.compile("[\\x21-\\x7e]{1,255}");

    @Inject
    Caller caller;
    @Inject
    ObjectMapper json;

    /** Runs {@code action} at most once per key; {@code request} (method + path + body) defines "same request". */
    public <T> RestResponse<T> run(String key, String operation, Object body, Supplier<RestResponse<T>> action) {
        if (key == null) {
            return action.get();
        }
        if (!KEY.matcher(key).matches()) {
            throw ApiException.field(ProblemType.INVALID_PARAMETER, HEADER, "must be 1-255 visible ASCII characters");
        }
        String scope = caller.scope();
        String tenantId = "platform".equals(scope) ? null : scope;
        String fingerprint = fingerprint(operation, body);
        IdempotencyRecord previous = claim(scope, tenantId, key, fingerprint);
        if (previous != null) {
            return replay(previous, fingerprint);
        }
        RestResponse<T> response;
        try {
            response = action.get();
        } catch (RuntimeException e) {
            QuarkusTransaction.requiringNew().run(() -> IdempotencyRecord.delete("scope = ?1 and idemKey = ?2", scope, key));
            throw e;
        }
        String stored = storedBody(response.getEntity());
        QuarkusTransaction.requiringNew().run(() -> {
            IdempotencyRecord rec = IdempotencyRecord.findById(new IdempotencyRecord.Key(scope, key));
            if (rec != null) {
                rec.state = "DONE";
                rec.responseStatus = response.getStatus();
                rec.responseBody = stored;
                rec.location = response.getHeaderString(HttpHeaders.LOCATION);
                rec.etag = response.getHeaderString(HttpHeaders.ETAG);
            }
        });
        return response;
    }

    /** Returns null when this request now owns the key, or the existing record to replay. */
    private IdempotencyRecord claim(String scope, String tenantId, String key, String fingerprint) {
        for (int attempt = 0; attempt < 3; attempt++) {
            try {
                return QuarkusTransaction.requiringNew().call(() -> {
                    IdempotencyRecord rec = IdempotencyRecord.findById(new IdempotencyRecord.Key(scope, key));
                    Instant now = Instant.now();
                    if (rec != null && isStale(rec, now)) {
                        rec.delete();
                        IdempotencyRecord.flush();
                        rec = null;
                    }
                    if (rec != null) {
                        return rec;
                    }
                    IdempotencyRecord claim = new IdempotencyRecord();
                    claim.scope = scope;
                    claim.idemKey = key;
                    claim.tenantId = tenantId;
                    claim.requestHash = fingerprint;
                    claim.state = "IN_PROGRESS";
                    claim.createdAt = now;
                    claim.persist();
                    IdempotencyRecord.flush();
                    return null;
                });
            } catch (RuntimeException e) {
                // Lost the race to a concurrent request with the same key: read what it committed.
                if (!isConstraintViolation(e)) {
                    throw e;
                }
            }
        }
        throw new ApiException(ProblemType.IDEMPOTENCY_IN_PROGRESS, "a request with this Idempotency-Key is still running");
    }

    @SuppressWarnings("unchecked")
    private <T> RestResponse<T> replay(IdempotencyRecord rec, String fingerprint) {
        if (!rec.requestHash.equals(fingerprint)) {
            throw new ApiException(ProblemType.IDEMPOTENCY_KEY_REUSED, "this Idempotency-Key was used with a different request");
        }
        if (!"DONE".equals(rec.state)) {
            throw new ApiException(ProblemType.IDEMPOTENCY_IN_PROGRESS, "a request with this Idempotency-Key is still running; retry later");
        }
        // The stored body is already JSON text; it is written out verbatim (erasure makes the cast safe).
        RestResponse.ResponseBuilder<T> b = RestResponse.ResponseBuilder.<T>create(rec.responseStatus)
                .header(REPLAYED_HEADER, "true");
        if (rec.responseBody != null) {
            b.entity((T) rec.responseBody).type(MediaType.APPLICATION_JSON_TYPE);
        }
        if (rec.location != null) {
            b.header(HttpHeaders.LOCATION, rec.location);
        }
        if (rec.etag != null) {
            b.header(HttpHeaders.ETAG, rec.etag);
        }
        return b.build();
    }

    private static boolean isStale(IdempotencyRecord rec, Instant now) {
        Duration age = Duration.between(rec.createdAt, now);
        return age.compareTo(RETENTION) > 0 || ("IN_PROGRESS".equals(rec.state) && age.compareTo(ABANDONED_AFTER) > 0);
    }

    private String storedBody(Object entity) {
        if (entity == null) {
            return null;
        }
        var tree = json.valueToTree(entity);
        if (tree instanceof ObjectNode object) {
            object.remove("secret");
        }
        return tree.toString();
    }

    private String fingerprint(String operation, Object body) {
        try {
            byte[] canonical = canonicalJson().writeValueAsBytes(body == null ? "" : body);
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(operation.getBytes(StandardCharsets.UTF_8));
            sha.update((byte) 0);
            sha.update(canonical);
            return HexFormat.of().formatHex(sha.digest());
        } catch (NoSuchAlgorithmException | com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private volatile ObjectMapper canonical;

    /** Same settings as the API's mapper, with map keys sorted so {"a":1,"b":2} and {"b":2,"a":1} match. */
    private ObjectMapper canonicalJson() {
        ObjectMapper m = canonical;
        if (m == null) {
            m = json.copy().configure(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true);
            canonical = m;
        }
        return m;
    }

    private static boolean isConstraintViolation(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof org.hibernate.exception.ConstraintViolationException || t instanceof java.sql.SQLIntegrityConstraintViolationException) {
                return true;
            }
            if (t instanceof java.sql.SQLException sql && sql.getSQLState() != null && sql.getSQLState().startsWith("23")) {
                return true;
            }
            if (t == t.getCause()) {
                break;
            }
        }
        return false;
    }
}

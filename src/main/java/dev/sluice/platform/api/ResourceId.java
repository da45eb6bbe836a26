package dev.sluice.platform.api;

import dev.sluice.platform.problem.ApiException;
import dev.sluice.platform.problem.ProblemType;
import java.security.SecureRandom;
import java.util.regex.Pattern;

/**
 * Resource ids: a kind prefix, then 26 Crockford base32 characters (48 bits of milliseconds, then 80 random
 * bits), e.g. {@code img_01jd8x6k3q9v5w2n7r4t8y0bmz}. Ids sort by creation time, which makes them usable as
 * pagination cursors; the random part makes them unguessable. Ids from the wire are checked against the
 * kind's pattern before they reach a query.
 */
public enum ResourceId {
    TENANT("ten"), TOKEN("tok"), IMAGE("img"), MACHINE("mch"), SNAPSHOT("snp"), OPERATION("op"), COMMAND("cmd"),
    BOOT("boot");

    private static final char[] ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz".toCharArray();
    private static final SecureRandom RANDOM = new SecureRandom();

    private final String prefix;
    private final Pattern pattern;

    ResourceId(String prefix) {
        this.prefix = prefix;
        this.pattern = Pattern.compile(prefix + "_[0-9a-hjkmnp-tv-z]{26}");
    }

    public String next() {
        char[] out = new char[26];
        long time = System.currentTimeMillis();
        for (int i = 9; i >= 0; i--) {
            out[i] = ALPHABET[(int) (time & 31)];
            time >>>= 5;
        }
        byte[] random = new byte[10];
        RANDOM.nextBytes(random);
        long hi = 0;
        long lo = 0;
        for (int i = 0; i < 5; i++) {
            hi = (hi << 8) | (random[i] & 0xff);
            lo = (lo << 8) | (random[i + 5] & 0xff);
        }
        for (int i = 17; i >= 10; i--) {
            out[i] = ALPHABET[(int) (hi & 31)];
            hi >>>= 5;
        }
        for (int i = 25; i >= 18; i--) {
            out[i] = ALPHABET[(int) (lo & 31)];
            lo >>>= 5;
        }
        return prefix + "_" + new String(out);
    }

    public boolean matches(String raw) {
        return raw != null && pattern.matcher(raw).matches();
    }

    /** Returns {@code raw} if it is a well-formed id of this kind, else a 400 naming {@code field}. */
    public String require(String field, String raw) {
        if (!matches(raw)) {
            throw ApiException.field(ProblemType.INVALID_PARAMETER, field, "not a well-formed " + name().toLowerCase() + " id");
        }
        return raw;
    }

    public String prefix() {
        return prefix;
    }
}

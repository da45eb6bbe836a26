package dev.sluice.platform.api;

import dev.sluice.platform.problem.ApiException;
import dev.sluice.platform.problem.ProblemType;

/**
 * Strong entity tags derived from a row's optimistic-lock version, and RFC 9110 If-Match evaluation with
 * strong comparison (a weak tag never matches).
 */
public final class EntityTag {
    private EntityTag() {
    }

    public static String of(long version) {
        return "\"" + version + "\"";
    }

    /** Throws 412 unless {@code ifMatch} is absent, "*", or lists the current tag. */
    public static void checkIfMatch(String ifMatch, long currentVersion) {
        if (ifMatch == null || ifMatch.isBlank()) {
            return;
        }
        String current = of(currentVersion);
        for (String candidate : ifMatch.split(",")) {
            String tag = candidate.trim();
            if (tag.equals("*") || tag.equals(current)) {
                return;
            }
        }
        throw new ApiException(ProblemType.PRECONDITION_FAILED, "If-Match " + abbreviate(ifMatch) + " does not match the current ETag " + current);
    }

    private static String abbreviate(String s) {
        return s.length() > 100 ? s.substring(0, 100) + "…" : s;
    }
}

package dev.sluice.upload;

import dev.sluice.platform.problem.ApiException;
import dev.sluice.platform.problem.ProblemType;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** An upload's {@code Content-Range: bytes first-last/total} (RFC 9110 §14.4); total may be "*". */
public record ContentRange(long first, long last, Long total) {
    private static final Pattern SYNTAX = Pattern.compile("bytes (\\d{1,19})-(\\d{1,19})/(\\d{1,19}|\\*)");

    public static ContentRange parse(String header) {
        if (header == null) {
            return null;
        }
        Matcher m = SYNTAX.matcher(header.trim());
        if (!m.matches()) {
            throw ApiException.field(ProblemType.INVALID_PARAMETER, "Content-Range", "expected 'bytes first-last/total'");
        }
        try {
            long first = Long.parseLong(m.group(1));
            long last = Long.parseLong(m.group(2));
            Long total = m.group(3).equals("*") ? null : Long.parseLong(m.group(3));
            if (last < first || (total != null && last >= total)) {
                throw ApiException.field(ProblemType.INVALID_PARAMETER, "Content-Range", "last must be ≥ first and < total");
            }
            return new ContentRange(first, last, total);
        } catch (NumberFormatException e) {
            throw ApiException.field(ProblemType.INVALID_PARAMETER, "Content-Range", "number out of range");
        }
    }
}

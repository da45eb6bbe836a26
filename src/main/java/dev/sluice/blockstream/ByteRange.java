package dev.sluice.blockstream;

/**
 * One byte range of a representation of {@code length} bytes, per RFC 9110 §14.1.2: {@code first-last},
 * {@code first-}, or the suffix {@code -n}. Parsing answers one of three things: serve the range, serve the
 * whole representation (no Range, or one this server ignores: a syntax error, a non-bytes unit, or several
 * ranges, all of which the RFC lets a server ignore), or 416 (syntactically valid but unsatisfiable).
 */
public record ByteRange(long first, long lastInclusive) {

    public sealed interface Decision permits Whole, Partial, Unsatisfiable {
    }

    public record Whole() implements Decision {
    }

    public record Partial(ByteRange range) implements Decision {
    }

    public record Unsatisfiable() implements Decision {
    }

    public long length() {
        return lastInclusive - first + 1;
    }

    public static Decision decide(String header, long length) {
        if (header == null) {
            return new Whole();
        }
        String h = header.trim();
        if (h.length() < 6 || !h.regionMatches(true, 0, "bytes=", 0, 6)) {
            return new Whole();
        }
        String spec = h.substring(6).trim();
        if (spec.contains(",")) {
            return new Whole();
        }
        int dash = spec.indexOf('-');
        if (dash < 0) {
            return new Whole();
        }
        String a = spec.substring(0, dash).trim();
        String b = spec.substring(dash + 1).trim();
        try {
            if (a.isEmpty()) {
                if (b.isEmpty() || !digits(b)) {
                    return new Whole();
                }
                long suffix = parse(b);
                if (suffix == 0 || length == 0) {
                    return new Unsatisfiable();
                }
                return new Partial(new ByteRange(Math.max(0, length - suffix), length - 1));
            }
            if (!digits(a) || (!b.isEmpty() && !digits(b))) {
                return new Whole();
            }
            long first = parse(a);
            if (!b.isEmpty()) {
                long last = parse(b);
                if (last < first) {
                    return new Whole();
                }
                if (first >= length) {
                    return new Unsatisfiable();
                }
                return new Partial(new ByteRange(first, Math.min(last, length - 1)));
            }
            if (first >= length) {
                return new Unsatisfiable();
            }
            return new Partial(new ByteRange(first, length - 1));
        } catch (NumberFormatException overflow) {
            // A number too large for a long is past the end of any representation we serve.
            return a.isEmpty() ? new Partial(new ByteRange(0, length - 1)) : new Unsatisfiable();
        }
    }

    private static boolean digits(String s) {
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '9') {
                return false;
            }
        }
        return !s.isEmpty();
    }

    private static long parse(String s) {
        return Long.parseLong(s);
    }
}

package dev.sluice.platform.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.platform.problem.ApiException;
import dev.sluice.platform.problem.Problem;
import dev.sluice.platform.problem.ProblemType;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * An RFC 7396 JSON merge patch, checked field by field: a member that is absent is left alone, {@code null}
 * clears it, a value replaces it; for label maps the patch merges key by key. Unknown or immutable members
 * and wrong JSON types are 400s; values that break a rule are 422s. Nothing is applied until every member has
 * been checked.
 */
public final class MergePatch {
    private static final Pattern LABEL_KEY = Pattern.compile(Names.LABEL_KEY_PATTERN);
    private static final Pattern NAME = Pattern.compile(Names.NAME_PATTERN);

    private final ObjectNode node;

    private MergePatch(ObjectNode node) {
        this.node = node;
    }

    public static MergePatch of(JsonNode body, Set<String> allowed) {
        if (!(body instanceof ObjectNode object)) {
            throw new ApiException(ProblemType.MALFORMED_REQUEST, "a merge patch must be a JSON object");
        }
        List<Problem.FieldError> unknown = new ArrayList<>();
        for (Iterator<String> it = object.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!allowed.contains(f)) {
                unknown.add(new Problem.FieldError(f, "unknown or immutable field; patchable: " + String.join(", ", new java.util.TreeSet<>(allowed))));
            }
        }
        if (!unknown.isEmpty()) {
            throw new ApiException(ProblemType.MALFORMED_REQUEST, "unknown or immutable field '" + unknown.get(0).field() + "'", unknown);
        }
        return new MergePatch(object);
    }

    public boolean has(String field) {
        return node.has(field);
    }

    /** The new text value (null clears); call only when {@link #has}. */
    public String text(String field, int maxLength, boolean nullable) {
        JsonNode v = node.get(field);
        if (v.isNull()) {
            if (!nullable) {
                throw ApiException.field(ProblemType.VALIDATION, field, "must not be null");
            }
            return null;
        }
        if (!v.isTextual()) {
            throw ApiException.field(ProblemType.MALFORMED_REQUEST, field, "expected a string");
        }
        if (v.textValue().length() > maxLength) {
            throw ApiException.field(ProblemType.VALIDATION, field, "size must be between 0 and " + maxLength);
        }
        return v.textValue();
    }

    public String name(String field) {
        String name = text(field, 63, false);
        if (!NAME.matcher(name).matches()) {
            throw ApiException.field(ProblemType.VALIDATION, field, Names.NAME_MESSAGE);
        }
        return name;
    }

    /** Applies the patch's label object to {@code current}, returning the merged map. */
    public Map<String, String> labels(String field, Map<String, String> current) {
        JsonNode v = node.get(field);
        TreeMap<String, String> merged = new TreeMap<>(current);
        if (v.isNull()) {
            merged.clear();
            return merged;
        }
        if (!v.isObject()) {
            throw ApiException.field(ProblemType.MALFORMED_REQUEST, field, "expected an object of string values");
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String path = field + "." + e.getKey();
            if (e.getValue().isNull()) {
                merged.remove(e.getKey());
                continue;
            }
            if (!e.getValue().isTextual()) {
                throw ApiException.field(ProblemType.MALFORMED_REQUEST, path, "expected a string");
            }
            merged.put(e.getKey(), e.getValue().textValue());
        }
        checkLabels(field, merged);
        return merged;
    }

    /** The rules every label map obeys, whether it arrives in a create or a patch. */
    public static void checkLabels(String field, Map<String, String> labels) {
        if (labels == null) {
            return;
        }
        if (labels.size() > Names.MAX_LABELS) {
            throw ApiException.field(ProblemType.VALIDATION, field, "at most " + Names.MAX_LABELS + " labels");
        }
        for (Map.Entry<String, String> e : labels.entrySet()) {
            if (!LABEL_KEY.matcher(e.getKey()).matches()) {
                throw ApiException.field(ProblemType.VALIDATION, field + "." + e.getKey(),
                        "label keys are 1-63 characters of a-z, 0-9, '.', '_', '/', '-', starting and ending with a letter or digit");
            }
            if (e.getValue() == null || e.getValue().length() > Names.MAX_LABEL_VALUE) {
                throw ApiException.field(ProblemType.VALIDATION, field + "." + e.getKey(), "label values are strings of at most " + Names.MAX_LABEL_VALUE + " characters");
            }
        }
    }
}

package dev.sluice.agent.main;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Parsed command line: a command and its {@code --flag value} / {@code --switch} options. A repeated flag keeps
 * its last value in {@code values} and every value, in order, in {@code all} (for repeatable flags such as --target).
 */
record Options(String command, Map<String, String> values, Map<String, List<String>> all) {

    static final Set<String> SWITCHES = Set.of("--json", "--help", "--debug");

    static Options parse(List<String> args) {
        if (args.isEmpty()) return new Options("help", Map.of(), Map.of());
        String command = args.get(0);
        if (command.equals("--help") || command.equals("-h")) return new Options("help", Map.of(), Map.of());
        Map<String, String> values = new HashMap<>();
        Map<String, List<String>> all = new HashMap<>();
        for (int i = 1; i < args.size(); i++) {
            String a = args.get(i);
            if (!a.startsWith("--")) throw new IllegalArgumentException("unexpected argument: " + a);
            String name = a;
            String value;
            int eq = a.indexOf('=');
            if (eq > 0) {
                name = a.substring(0, eq);
                value = a.substring(eq + 1);
            } else if (SWITCHES.contains(a)) {
                value = "true";
            } else {
                if (i + 1 >= args.size()) throw new IllegalArgumentException(a + " needs a value");
                value = args.get(++i);
            }
            values.put(name, value);
            all.computeIfAbsent(name, k -> new java.util.ArrayList<>()).add(value);
        }
        return new Options(command, values, all);
    }

    String require(String name) {
        String v = values.get(name);
        if (v == null || v.isEmpty()) throw new IllegalArgumentException("missing " + name);
        return v;
    }

    String get(String name, String fallback) {
        return values.getOrDefault(name, fallback);
    }

    /** Every value of a repeatable flag, in command-line order (empty if absent). */
    List<String> getAll(String name) {
        return all.getOrDefault(name, List.of());
    }

    boolean has(String name) {
        return values.containsKey(name);
    }

    void allow(Set<String> names) {
        for (String k : values.keySet()) {
            if (!names.contains(k)) throw new IllegalArgumentException("unknown option " + k + " for '" + command + "'");
        }
    }
}

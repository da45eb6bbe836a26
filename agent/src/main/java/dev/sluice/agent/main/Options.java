package dev.sluice.agent.main;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Parsed command line: a command and its {@code --flag value} / {@code --switch} options. */
record Options(String command, Map<String, String> values) {

    static final Set<String> SWITCHES = Set.of("--json", "--help", "--debug");

    static Options parse(List<String> args) {
        if (args.isEmpty()) return new Options("help", Map.of());
        String command = args.get(0);
        if (command.equals("--help") || command.equals("-h")) return new Options("help", Map.of());
        Map<String, String> values = new HashMap<>();
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
        }
        return new Options(command, values);
    }

    String require(String name) {
        String v = values.get(name);
        if (v == null || v.isEmpty()) throw new IllegalArgumentException("missing " + name);
        return v;
    }

    String get(String name, String fallback) {
        return values.getOrDefault(name, fallback);
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

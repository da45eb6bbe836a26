package dev.sluice.platform.security;

import java.util.Arrays;
import java.util.Optional;
import java.util.Set;

/**
 * Roles and their implications. Endpoints name the weakest role they need; a stronger tenant role implies the
 * weaker ones (admin ⊃ member ⊃ viewer). platform-admin is separate: it manages tenants, not their contents.
 * A machine credential is scoped to one machine and implies nothing else.
 */
public enum Role {
    PLATFORM_ADMIN(Names.PLATFORM_ADMIN),
    TENANT_ADMIN(Names.TENANT_ADMIN, Names.TENANT_MEMBER, Names.TENANT_VIEWER),
    TENANT_MEMBER(Names.TENANT_MEMBER, Names.TENANT_VIEWER),
    TENANT_VIEWER(Names.TENANT_VIEWER),
    MACHINE(Names.MACHINE);

    /** Compile-time constants for {@code @RolesAllowed}. */
    public static final class Names {
        public static final String PLATFORM_ADMIN = "platform-admin";
        public static final String TENANT_ADMIN = "tenant-admin";
        public static final String TENANT_MEMBER = "tenant-member";
        public static final String TENANT_VIEWER = "tenant-viewer";
        public static final String MACHINE = "machine";

        private Names() {
        }
    }

    private final String wireName;
    private final Set<String> grants;

    Role(String wireName, String... implied) {
        this.wireName = wireName;
        java.util.Set<String> all = new java.util.HashSet<>(Set.of(implied));
        all.add(wireName);
        this.grants = Set.copyOf(all);
    }

    public String wireName() {
        return wireName;
    }

    /** Every role name a holder of this role passes {@code @RolesAllowed} checks for. */
    public Set<String> grants() {
        return grants;
    }

    public boolean isTenantRole() {
        return this == TENANT_ADMIN || this == TENANT_MEMBER || this == TENANT_VIEWER;
    }

    public static Optional<Role> fromWire(String name) {
        return Arrays.stream(values()).filter(r -> r.wireName.equals(name)).findFirst();
    }
}

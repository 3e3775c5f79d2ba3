package dev.fedprune.coordinator.security;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/** What an operator may do: viewers read, operators also run jobs and enroll or revoke agents, admins also manage people and read the audit log. */
public enum OperatorRole {
    VIEWER, OPERATOR, ADMIN;

    public boolean includes(OperatorRole other) {
        return ordinal() >= other.ordinal();
    }

    /** This role and every role below it, for frameworks that check one role at a time. */
    public List<OperatorRole> granted() {
        return Arrays.stream(values()).filter(this::includes).toList();
    }

    public static OperatorRole parse(String text, String field) {
        try {
            return valueOf(text.trim().toUpperCase(Locale.ROOT));
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(field + ": '" + text + "' is not a role; expected viewer, operator or admin");
        }
    }
}

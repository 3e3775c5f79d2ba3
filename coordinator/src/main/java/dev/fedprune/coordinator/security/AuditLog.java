package dev.fedprune.coordinator.security;

import dev.fedprune.coordinator.store.SecurityStore;
import java.util.List;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Security-relevant events, in the database for admins and one log line each for operators:
 * enrollment, renewal, revocation, refused connections and contributions, logins that failed.
 * Never holds a secret: tokens and passwords appear only as ids or not at all.
 */
public final class AuditLog {
    private static final Logger log = LoggerFactory.getLogger(AuditLog.class);

    public static final String AGENT_ENROLLED = "agent.enrolled";
    public static final String ENROLLMENT_REFUSED = "agent.enrollment-refused";
    public static final String AGENT_RENEWED = "agent.renewed";
    public static final String RENEWAL_REFUSED = "agent.renewal-refused";
    public static final String AGENT_REVOKED = "agent.revoked";
    public static final String CONNECTION_REFUSED = "agent.connection-refused";
    public static final String CONTRIBUTION_REFUSED = "contribution.refused";
    public static final String TOKEN_MINTED = "enrollment-token.minted";
    public static final String LOGIN_FAILED = "operator.login-failed";
    public static final String OPERATOR_CREATED = "operator.created";
    public static final String API_TOKEN_CREATED = "api-token.created";
    public static final String API_TOKEN_REVOKED = "api-token.revoked";
    public static final String JOB_SUBMITTED = "job.submitted";
    public static final String JOB_CANCELLED = "job.cancelled";

    private final SecurityStore store;
    private final LongSupplier clock;

    public AuditLog(SecurityStore store, LongSupplier clock) {
        this.store = store;
        this.clock = clock;
    }

    public void success(String event, String actor, String subject, String detail) {
        record(event, "SUCCESS", actor, subject, detail);
    }

    public void refused(String event, String actor, String subject, String detail) {
        record(event, "REFUSED", actor, subject, detail);
    }

    private void record(String event, String outcome, String actor, String subject, String detail) {
        store.audit(clock.getAsLong(), event, outcome, actor, subject, detail);
        if (outcome.equals("REFUSED")) {
            log.warn("audit {} {}: actor={} subject={}: {}", event, outcome, actor, subject, detail);
        } else {
            log.info("audit {} {}: actor={} subject={}: {}", event, outcome, actor, subject, detail);
        }
    }

    public List<SecurityStore.AuditEntry> entries(int limit, String event) {
        return store.auditEntries(Math.max(1, Math.min(limit, 10_000)), event);
    }
}

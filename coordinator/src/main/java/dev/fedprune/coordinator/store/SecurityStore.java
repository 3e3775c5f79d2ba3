package dev.fedprune.coordinator.store;

import dev.fedprune.security.sign.NonceStore;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * Durable security state: enrollment tokens, issued agent certificates, revocations, contribution
 * nonces, the audit log, operator accounts and API tokens. Secrets are only ever stored hashed.
 */
public final class SecurityStore implements NonceStore {
    private final Jdbc jdbc;

    public SecurityStore(DataSource dataSource) {
        this.jdbc = new Jdbc(dataSource);
    }

    // ------------------------------------------------------------------ enrollment tokens

    public record EnrollmentToken(String id, String site, String createdBy, long createdAt, long expiresAt, Long usedAt, String usedByAgent) {
    }

    public void insertEnrollmentToken(String id, String tokenSha256, String site, String createdBy, long createdAt, long expiresAt) {
        jdbc.update("insert into enrollment_tokens (id, token_sha256, site, created_by, created_at, expires_at) values (?,?,?,?,?,?)",
                id, tokenSha256, site, createdBy, createdAt, expiresAt);
    }

    /** Marks the token used by the agent, atomically; false when it is unknown, used or expired. */
    public boolean consumeEnrollmentToken(String tokenSha256, String agentId, long now) {
        return jdbc.update("update enrollment_tokens set used_at = ?, used_by_agent = ? where token_sha256 = ? and used_at is null and expires_at > ?",
                now, agentId, tokenSha256, now) == 1;
    }

    public Optional<EnrollmentToken> enrollmentTokenByHash(String tokenSha256) {
        return jdbc.queryOne("select * from enrollment_tokens where token_sha256 = ?", SecurityStore::tokenRow, tokenSha256);
    }

    public List<EnrollmentToken> enrollmentTokens() {
        return jdbc.query("select * from enrollment_tokens order by created_at desc, id", SecurityStore::tokenRow);
    }

    private static EnrollmentToken tokenRow(ResultSet rs) throws SQLException {
        long used = rs.getLong("used_at");
        Long usedAt = rs.wasNull() ? null : used;
        return new EnrollmentToken(rs.getString("id"), rs.getString("site"), rs.getString("created_by"), rs.getLong("created_at"),
                rs.getLong("expires_at"), usedAt, rs.getString("used_by_agent"));
    }

    // ------------------------------------------------------------------ agent certificates and revocation

    public record AgentCertificate(String serial, String agentId, String publicKeySha256, long issuedAt, long notAfter, String reason) {
    }

    public void insertCertificate(AgentCertificate c) {
        jdbc.update("insert into agent_certificates (serial, agent_id, public_key_sha256, issued_at, not_after, reason) values (?,?,?,?,?,?)",
                c.serial(), c.agentId(), c.publicKeySha256(), c.issuedAt(), c.notAfter(), c.reason());
    }

    public Optional<AgentCertificate> certificate(String serial) {
        return jdbc.queryOne("select * from agent_certificates where serial = ?", rs -> new AgentCertificate(rs.getString("serial"),
                rs.getString("agent_id"), rs.getString("public_key_sha256"), rs.getLong("issued_at"), rs.getLong("not_after"),
                rs.getString("reason")), serial);
    }

    public void revokeAgent(String agentId, long at, String reason) {
        // Offline at once: the engine selects only online agents, and a revoked one can no longer heartbeat.
        jdbc.update("update agents set revoked_at = coalesce(revoked_at, ?), revoked_reason = coalesce(revoked_reason, ?), state = 'REVOKED',"
                + " last_heartbeat_at = 0, current_task_id = null where id = ?", at, reason, agentId);
    }

    public record Revocation(long at, String reason) {
    }

    public Optional<Revocation> revocation(String agentId) {
        return jdbc.queryOne("select revoked_at, revoked_reason from agents where id = ? and revoked_at is not null",
                rs -> new Revocation(rs.getLong(1), rs.getString(2)), agentId);
    }

    // ------------------------------------------------------------------ nonces

    @Override
    public boolean recordFirstUse(String signer, String nonce, String context, long atMillis) {
        try {
            return jdbc.update("insert into contribution_nonces (agent_id, nonce, context, used_at) values (?,?,?,?)", signer, nonce,
                    context.length() > 200 ? context.substring(0, 200) : context, atMillis) == 1;
        } catch (Jdbc.StoreException e) {
            if (e.getCause() instanceof SQLException sql && sql.getSQLState() != null && sql.getSQLState().startsWith("23")) {
                return false; // integrity constraint violation: the primary key (agent, nonce) exists
            }
            throw e;
        }
    }

    @Override
    public boolean wasUsed(String signer, String nonce) {
        return jdbc.queryOne("select 1 from contribution_nonces where agent_id = ? and nonce = ?", rs -> 1, signer, nonce).isPresent();
    }

    // ------------------------------------------------------------------ audit log

    public record AuditEntry(long id, long at, String event, String outcome, String actor, String subject, String detail) {
    }

    public void audit(long at, String event, String outcome, String actor, String subject, String detail) {
        jdbc.update("insert into audit_log (at, event, outcome, actor, subject, detail) values (?,?,?,?,?,?)", at, event, outcome,
                clip(actor, 200), clip(subject, 200), detail);
    }

    /** Newest first. */
    public List<AuditEntry> auditEntries(int limit, String event) {
        String sql = "select * from audit_log" + (event == null ? "" : " where event = ?") + " order by id desc";
        Object[] args = event == null ? new Object[0] : new Object[] {event};
        List<AuditEntry> all = jdbc.query(sql, rs -> new AuditEntry(rs.getLong("id"), rs.getLong("at"), rs.getString("event"),
                rs.getString("outcome"), rs.getString("actor"), rs.getString("subject"), rs.getString("detail")), args);
        return all.size() > limit ? all.subList(0, limit) : all;
    }

    private static String clip(String s, int max) {
        return s == null || s.length() <= max ? s : s.substring(0, max);
    }

    // ------------------------------------------------------------------ operators and API tokens

    public record Operator(String username, String passwordHash, String role, long createdAt, Long disabledAt) {
    }

    public void insertOperator(Operator o) {
        jdbc.update("insert into operators (username, password_hash, role, created_at, disabled_at) values (?,?,?,?,?)",
                o.username(), o.passwordHash(), o.role(), o.createdAt(), o.disabledAt());
    }

    public Optional<Operator> operator(String username) {
        return jdbc.queryOne("select * from operators where username = ?", SecurityStore::operatorRow, username);
    }

    public List<Operator> operators() {
        return jdbc.query("select * from operators order by username", SecurityStore::operatorRow);
    }

    public void updateOperator(String username, String passwordHash, String role, Long disabledAt) {
        jdbc.update("update operators set password_hash = coalesce(?, password_hash), role = coalesce(?, role), disabled_at = ? where username = ?",
                passwordHash, role, disabledAt, username);
    }

    private static Operator operatorRow(ResultSet rs) throws SQLException {
        long d = rs.getLong("disabled_at");
        Long disabledAt = rs.wasNull() ? null : d;
        return new Operator(rs.getString("username"), rs.getString("password_hash"), rs.getString("role"), rs.getLong("created_at"), disabledAt);
    }

    public record ApiToken(String id, String username, String name, String role, long createdAt, Long expiresAt, Long revokedAt, Long lastUsedAt) {
    }

    public void insertApiToken(String id, String tokenSha256, String username, String name, String role, long createdAt, Long expiresAt) {
        jdbc.update("insert into api_tokens (id, token_sha256, username, name, role, created_at, expires_at) values (?,?,?,?,?,?,?)",
                id, tokenSha256, username, name, role, createdAt, expiresAt);
    }

    public Optional<ApiToken> apiTokenByHash(String tokenSha256) {
        return jdbc.queryOne("select * from api_tokens where token_sha256 = ?", SecurityStore::apiTokenRow, tokenSha256);
    }

    public List<ApiToken> apiTokens(String username) {
        return username == null ? jdbc.query("select * from api_tokens order by created_at, id", SecurityStore::apiTokenRow)
                : jdbc.query("select * from api_tokens where username = ? order by created_at, id", SecurityStore::apiTokenRow, username);
    }

    public void revokeApiToken(String id, long at) {
        jdbc.update("update api_tokens set revoked_at = coalesce(revoked_at, ?) where id = ?", at, id);
    }

    public void touchApiToken(String id, long at) {
        jdbc.update("update api_tokens set last_used_at = ? where id = ?", at, id);
    }

    private static ApiToken apiTokenRow(ResultSet rs) throws SQLException {
        return new ApiToken(rs.getString("id"), rs.getString("username"), rs.getString("name"), rs.getString("role"), rs.getLong("created_at"),
                nullable(rs, "expires_at"), nullable(rs, "revoked_at"), nullable(rs, "last_used_at"));
    }

    private static Long nullable(ResultSet rs, String column) throws SQLException {
        long v = rs.getLong(column);
        return rs.wasNull() ? null : v;
    }
}

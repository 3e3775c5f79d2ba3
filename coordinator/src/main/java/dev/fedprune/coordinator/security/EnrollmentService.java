package dev.fedprune.coordinator.security;

import dev.fedprune.coordinator.agent.AgentRegistry;
import dev.fedprune.coordinator.error.NotFoundException;
import dev.fedprune.coordinator.store.Records.AgentRecord;
import dev.fedprune.coordinator.store.SecurityStore;
import dev.fedprune.security.InvalidSecurityInputException;
import dev.fedprune.security.pki.Csrs;
import dev.fedprune.security.secret.SecretTokens;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.function.LongSupplier;

/**
 * Joins agents to the federation: operators mint one-time enrollment tokens (stored hashed); an
 * agent trades a token and a CSR for its first certificate, renews it with its current certificate,
 * and an operator can revoke it. Each outcome leaves an audit entry.
 */
public final class EnrollmentService {
    static final Duration MAX_TOKEN_TTL = Duration.ofDays(30);

    /** A freshly minted token: the only moment its clear text exists on the coordinator. */
    public record MintedToken(String id, String token, String site, long expiresAt) {
    }

    /** What an enrolled or renewed agent receives. */
    public record Issued(AgentRecord agent, X509Certificate certificate) {
    }

    private final SecurityStore store;
    private final AgentRegistry agents;
    private final AgentPki pki;
    private final AuditLog audit;
    private final LongSupplier clock;

    public EnrollmentService(SecurityStore store, AgentRegistry agents, AgentPki pki, AuditLog audit, LongSupplier clock) {
        this.store = store;
        this.agents = agents;
        this.pki = pki;
        this.audit = audit;
        this.clock = clock;
    }

    public MintedToken mintToken(String site, Duration ttl, String actor) {
        if (ttl == null || ttl.isNegative() || ttl.isZero() || ttl.compareTo(MAX_TOKEN_TTL) > 0) {
            throw new IllegalArgumentException("ttl: an enrollment token lives between 1 second and " + MAX_TOKEN_TTL.toDays() + " days, got " + ttl);
        }
        if (site != null && (site.isBlank() || site.length() > 200)) {
            throw new IllegalArgumentException("site: 1 to 200 characters when given");
        }
        String token = SecretTokens.generate(SecretTokens.ENROLLMENT_PREFIX);
        String id = "tok-" + UUID.randomUUID().toString().substring(0, 8);
        long now = clock.getAsLong();
        long expiresAt = now + ttl.toMillis();
        store.insertEnrollmentToken(id, SecretTokens.hash(token), site, actor, now, expiresAt);
        audit.success(AuditLog.TOKEN_MINTED, actor, id, "site " + (site == null ? "(any)" : site) + ", expires " + Instant.ofEpochMilli(expiresAt));
        return new MintedToken(id, token, site, expiresAt);
    }

    public List<SecurityStore.EnrollmentToken> tokens() {
        return store.enrollmentTokens();
    }

    /**
     * Enrolls an agent: checks the CSR first (so a malformed request does not burn the token), then
     * consumes the token atomically, registers the agent and issues its certificate.
     *
     * @param peer where the request came from, for the audit log
     */
    public Issued enroll(String token, String csrPem, String name, String site, String resources, String peer) {
        String subject = name == null || name.isBlank() ? "(unnamed)" : name;
        try {
            PublicKey key = Csrs.verify(csrPem, "csr_pem");
            // Everything that can be refused is checked before the token is spent.
            if (name == null || name.isBlank() || name.length() > 200) {
                throw new IllegalArgumentException("name: an agent needs a name of 1 to 200 characters");
            }
            if (site != null && site.length() > 200) {
                throw new IllegalArgumentException("site: at most 200 characters");
            }
            String tokenHash = tokenHash(token);
            long now = clock.getAsLong();
            SecurityStore.EnrollmentToken record = store.enrollmentTokenByHash(tokenHash)
                    .orElseThrow(() -> new TokenRejectedException("enrollment_token: not a token this coordinator issued"));
            String effectiveSite = record.site() != null ? record.site() : (site == null || site.isBlank() ? null : site);
            String agentId = AgentRegistry.newAgentId();
            if (!store.consumeEnrollmentToken(tokenHash, agentId, now)) {
                SecurityStore.EnrollmentToken again = store.enrollmentTokenByHash(tokenHash).orElse(record);
                throw new TokenRejectedException(again.usedAt() != null
                        ? "enrollment_token: already used at " + Instant.ofEpochMilli(again.usedAt()) + "; tokens are one-time, mint a new one"
                        : "enrollment_token: expired at " + Instant.ofEpochMilli(again.expiresAt()) + "; mint a new one");
            }
            AgentRecord agent = agents.register(agentId, name, effectiveSite, resources);
            X509Certificate cert = pki.issue(agent.id(), key, "enroll");
            audit.success(AuditLog.AGENT_ENROLLED, peer, agent.id(), "name " + name + ", site " + effectiveSite + ", token " + record.id()
                    + ", certificate " + cert.getSerialNumber().toString(16) + " until " + cert.getNotAfter().toInstant());
            return new Issued(agent, cert);
        } catch (TokenRejectedException | InvalidSecurityInputException | IllegalArgumentException e) {
            audit.refused(AuditLog.ENROLLMENT_REFUSED, peer, subject, e.getMessage());
            throw e;
        }
    }

    private static String tokenHash(String token) {
        if (token == null || token.isEmpty()) {
            throw new TokenRejectedException("enrollment_token: required; ask an operator for a one-time token");
        }
        if (!SecretTokens.looksLike(token, SecretTokens.ENROLLMENT_PREFIX)) {
            throw new TokenRejectedException("enrollment_token: not a FedPrune enrollment token (expected " + SecretTokens.ENROLLMENT_PREFIX + "...)");
        }
        return SecretTokens.hash(token);
    }

    /** A new certificate for an agent that still holds a valid one (its mTLS identity). */
    public Issued renew(AgentRecord agent, String csrPem, String peer) {
        try {
            PublicKey key = Csrs.verify(csrPem, "csr_pem");
            X509Certificate cert = pki.issue(agent.id(), key, "renew");
            audit.success(AuditLog.AGENT_RENEWED, peer, agent.id(), "certificate " + cert.getSerialNumber().toString(16) + " until " + cert.getNotAfter().toInstant());
            return new Issued(agent, cert);
        } catch (InvalidSecurityInputException e) {
            audit.refused(AuditLog.RENEWAL_REFUSED, peer, agent.id(), e.getMessage());
            throw e;
        }
    }

    /** Refuses the agent on its next call, whatever certificate it holds. */
    public void revoke(String agentId, String reason, String actor) {
        agents.all().stream().filter(a -> a.id().equals(agentId)).findFirst().orElseThrow(() -> new NotFoundException("agent", agentId));
        store.revokeAgent(agentId, clock.getAsLong(), reason == null || reason.isBlank() ? "revoked by " + actor : reason);
        audit.success(AuditLog.AGENT_REVOKED, actor, agentId, reason);
    }
}

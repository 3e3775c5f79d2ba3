package dev.fedprune.coordinator.security;

import dev.fedprune.coordinator.error.NotFoundException;
import dev.fedprune.coordinator.error.PermissionDeniedException;
import dev.fedprune.coordinator.store.SecurityStore;
import dev.fedprune.coordinator.store.SecurityStore.ApiToken;
import dev.fedprune.coordinator.store.SecurityStore.Operator;
import dev.fedprune.security.secret.Argon2idPasswordHasher;
import dev.fedprune.security.secret.SecretTokens;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Operator accounts (passwords hashed with Argon2id) and API tokens for automation (random, stored
 * as SHA-256). Plain Java: the Spring Security glue in the web package only calls into this.
 */
public final class OperatorAccounts {
    private static final Logger log = LoggerFactory.getLogger(OperatorAccounts.class);
    static final int MIN_PASSWORD_CHARS = 12;
    static final Duration MAX_API_TOKEN_TTL = Duration.ofDays(366);

    /** Who a request was authenticated as; its name is the user name, wherever a framework asks for it. */
    public record Principal(String username, OperatorRole role, String via) implements java.security.Principal {
        @Override
        public String getName() {
            return username;
        }
    }

    /** A new API token: its clear text exists only in this value. */
    public record MintedApiToken(String id, String token, String name, OperatorRole role, Long expiresAt) {
    }

    private final SecurityStore store;
    private final AuditLog audit;
    private final LongSupplier clock;
    private final Argon2idPasswordHasher hasher;
    // Verifying an unknown user still costs one hash, so response time does not reveal which names exist.
    private final String dummyHash;

    public OperatorAccounts(SecurityStore store, AuditLog audit, LongSupplier clock, Argon2idPasswordHasher hasher) {
        this.store = store;
        this.audit = audit;
        this.clock = clock;
        this.hasher = hasher;
        this.dummyHash = hasher.hash("not-a-password-of-anyone");
    }

    /**
     * Creates the first admin from configuration when no account exists yet, and registers a
     * configured bootstrap API token for it. Neither secret is logged.
     */
    public void bootstrap(String adminUsername, String adminPassword, String adminApiToken) {
        boolean hasPassword = adminPassword != null && !adminPassword.isBlank();
        if (store.operators().isEmpty()) {
            if (!hasPassword) {
                log.warn("no operator accounts and no initial admin password: the REST API and pages refuse everyone until"
                        + " fedprune.security.admin.password (env FEDPRUNE_SECURITY_ADMIN_PASSWORD) is set");
                return;
            }
            createOperator(adminUsername, adminPassword, OperatorRole.ADMIN, "configuration");
        }
        if (adminApiToken != null && !adminApiToken.isBlank()) {
            if (adminApiToken.length() < 32) {
                throw new IllegalArgumentException("fedprune.security.admin.token (env FEDPRUNE_SECURITY_ADMIN_TOKEN): expected at least 32 characters of randomness, got " + adminApiToken.length());
            }
            String hash = SecretTokens.hash(adminApiToken);
            if (store.apiTokenByHash(hash).isEmpty() && store.operator(adminUsername).isPresent()) {
                store.insertApiToken("api-bootstrap-" + UUID.randomUUID().toString().substring(0, 8), hash, adminUsername, "bootstrap (configuration)",
                        OperatorRole.ADMIN.name(), clock.getAsLong(), null);
                audit.success(AuditLog.API_TOKEN_CREATED, "configuration", adminUsername, "bootstrap API token from configuration");
            }
        }
    }

    public Operator createOperator(String username, String password, OperatorRole role, String actor) {
        if (username == null || !username.matches("[A-Za-z0-9._@-]{1,100}")) {
            throw new IllegalArgumentException("username: 1 to 100 letters, digits or . _ @ -");
        }
        if (password == null || password.length() < MIN_PASSWORD_CHARS) {
            throw new IllegalArgumentException("password: at least " + MIN_PASSWORD_CHARS + " characters");
        }
        if (store.operator(username).isPresent()) {
            throw new IllegalArgumentException("username: '" + username + "' exists already");
        }
        Operator o = new Operator(username, hasher.hash(password), role.name(), clock.getAsLong(), null);
        store.insertOperator(o);
        audit.success(AuditLog.OPERATOR_CREATED, actor, username, "role " + role.name().toLowerCase());
        return o;
    }

    public List<Operator> operators() {
        return store.operators();
    }

    /** The operator, when the password is right and the account enabled; audits every failure. */
    public Optional<Principal> login(String username, String password, String from) {
        Optional<Operator> o = username == null ? Optional.empty() : store.operator(username);
        boolean ok = hasher.matches(password == null ? "" : password, o.map(Operator::passwordHash).orElse(dummyHash));
        if (o.isEmpty() || !ok || o.get().disabledAt() != null) {
            audit.refused(AuditLog.LOGIN_FAILED, from, username, o.isEmpty() ? "unknown user" : !ok ? "wrong password" : "account disabled");
            return Optional.empty();
        }
        return Optional.of(new Principal(o.get().username(), OperatorRole.valueOf(o.get().role()), "password"));
    }

    /** The token's owner and role, when the token is known, live and its owner enabled; audits every failure. */
    public Optional<Principal> authenticateToken(String token, String from) {
        Optional<ApiToken> t = token == null ? Optional.empty() : store.apiTokenByHash(SecretTokens.hash(token));
        long now = clock.getAsLong();
        String reason = null;
        if (t.isEmpty()) {
            reason = "unknown API token";
        } else if (t.get().revokedAt() != null) {
            reason = "API token " + t.get().id() + " was revoked";
        } else if (t.get().expiresAt() != null && t.get().expiresAt() <= now) {
            reason = "API token " + t.get().id() + " expired";
        } else if (store.operator(t.get().username()).map(o -> o.disabledAt() != null).orElse(true)) {
            reason = "the owner of API token " + t.get().id() + " is disabled";
        }
        if (reason != null) {
            audit.refused(AuditLog.LOGIN_FAILED, from, t.map(ApiToken::username).orElse(null), reason);
            return Optional.empty();
        }
        store.touchApiToken(t.get().id(), now);
        return Optional.of(new Principal(t.get().username(), OperatorRole.valueOf(t.get().role()), "api-token " + t.get().id()));
    }

    /** A bearer token for {@code owner}, with at most the owner's role. */
    public MintedApiToken createApiToken(Principal owner, String name, OperatorRole role, Duration ttl) {
        OperatorRole effective = role == null ? owner.role() : role;
        if (!owner.role().includes(effective)) {
            throw new PermissionDeniedException("role: a " + owner.role().name().toLowerCase() + " cannot create a token with role " + effective.name().toLowerCase());
        }
        if (name == null || name.isBlank() || name.length() > 200) {
            throw new IllegalArgumentException("name: 1 to 200 characters, e.g. what the token is for");
        }
        if (ttl != null && (ttl.isNegative() || ttl.isZero() || ttl.compareTo(MAX_API_TOKEN_TTL) > 0)) {
            throw new IllegalArgumentException("ttlDays: between 1 and " + MAX_API_TOKEN_TTL.toDays() + " days");
        }
        String token = SecretTokens.generate(SecretTokens.API_PREFIX);
        String id = "api-" + UUID.randomUUID().toString().substring(0, 8);
        long now = clock.getAsLong();
        Long expiresAt = ttl == null ? null : now + ttl.toMillis();
        store.insertApiToken(id, SecretTokens.hash(token), owner.username(), name, effective.name(), now, expiresAt);
        audit.success(AuditLog.API_TOKEN_CREATED, owner.username(), id, "'" + name + "', role " + effective.name().toLowerCase());
        return new MintedApiToken(id, token, name, effective, expiresAt);
    }

    /** Tokens of one operator, or of everyone for an admin. */
    public List<ApiToken> apiTokens(Principal who) {
        return store.apiTokens(who.role() == OperatorRole.ADMIN ? null : who.username());
    }

    public void revokeApiToken(Principal who, String id) {
        ApiToken t = store.apiTokens(null).stream().filter(x -> x.id().equals(id)).findFirst().orElseThrow(() -> new NotFoundException("API token", id));
        if (!t.username().equals(who.username()) && who.role() != OperatorRole.ADMIN) {
            throw new PermissionDeniedException("API token " + id + " belongs to another operator");
        }
        store.revokeApiToken(id, clock.getAsLong());
        audit.success(AuditLog.API_TOKEN_REVOKED, who.username(), id, null);
    }
}

package dev.fedprune.coordinator.store;

import com.zaxxer.hikari.HikariDataSource;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Assumptions;

/**
 * The coordinator database of one test, on H2 or on PostgreSQL, for tests that run on both. An H2
 * database is the coordinator's default file in the test's directory; a PostgreSQL one is a fresh schema
 * in the database named by {@code FEDPRUNE_TEST_POSTGRES_URL} (with {@code _USER} and {@code _PASSWORD}),
 * dropped again on close. {@code .ci/run} starts a PostgreSQL server and sets these; without them the
 * PostgreSQL runs are skipped, with a message that says so.
 */
public final class TestDatabase implements AutoCloseable {
    public enum Kind { H2, POSTGRESQL }

    public static final String URL_VARIABLE = "FEDPRUNE_TEST_POSTGRES_URL";
    static final String SKIPPED = "SKIPPED on PostgreSQL: " + URL_VARIABLE + " is not set (e.g. jdbc:postgresql://127.0.0.1:5432/fedprune_test,"
            + " with FEDPRUNE_TEST_POSTGRES_USER and _PASSWORD); .ci/run starts a PostgreSQL server and sets it,"
            + " see README \"Running on PostgreSQL\"";
    private static final AtomicBoolean WARNED = new AtomicBoolean();

    private final Kind kind;
    private final String url;
    private final String user;
    private final String password;
    private final String postgresqlBaseUrl;
    private final String schema;

    private TestDatabase(Kind kind, String url, String user, String password, String postgresqlBaseUrl, String schema) {
        this.kind = kind;
        this.url = url;
        this.user = user;
        this.password = password;
        this.postgresqlBaseUrl = postgresqlBaseUrl;
        this.schema = schema;
    }

    /** A new, empty database of the given kind; an H2 one lives in {@code dir} where the coordinator would put it. */
    public static TestDatabase create(Kind kind, Path dir) {
        return kind == Kind.H2 ? h2(dir) : postgresql();
    }

    /** The embedded H2 file database in {@code dir}, at the path a coordinator with that data directory uses by default. */
    public static TestDatabase h2(Path dir) {
        return new TestDatabase(Kind.H2, "jdbc:h2:file:" + dir.toAbsolutePath().resolve("db").resolve("fedprune") + ";AUTO_SERVER=FALSE",
                "sa", "", null, null);
    }

    /**
     * A fresh schema in the test PostgreSQL database; the returned URL selects it ({@code currentSchema}),
     * so that Flyway migrates it and the coordinator uses it as if it were a database of its own.
     * Aborts (skips) the calling test when no test database is configured.
     */
    public static TestDatabase postgresql() {
        String base = System.getenv(URL_VARIABLE);
        if (base == null || base.isBlank()) {
            if (WARNED.compareAndSet(false, true)) {
                System.err.println("*** " + SKIPPED + " ***");
            }
            Assumptions.abort(SKIPPED);
        }
        String user = System.getenv().getOrDefault("FEDPRUNE_TEST_POSTGRES_USER", "fedprune");
        String password = System.getenv().getOrDefault("FEDPRUNE_TEST_POSTGRES_PASSWORD", "");
        String schema = String.format("t_%016x", ThreadLocalRandom.current().nextLong());
        try (Connection c = DriverManager.getConnection(base, user, password); Statement s = c.createStatement()) {
            s.execute("create schema " + schema);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot create a schema in the test PostgreSQL database " + base + " as " + user + ": " + e.getMessage(), e);
        }
        String url = base + (base.contains("?") ? "&" : "?") + "currentSchema=" + schema;
        return new TestDatabase(Kind.POSTGRESQL, url, user, password, base, schema);
    }

    public Kind kind() {
        return kind;
    }

    public String url() {
        return url;
    }

    public String user() {
        return user;
    }

    public String password() {
        return password;
    }

    /** A pooled, migrated data source, the way the coordinator opens its database. */
    public HikariDataSource open() {
        return Database.open(url, user, password);
    }

    /** Drops a PostgreSQL test's schema; close every data source on it first. H2 files go with the test's directory. */
    @Override
    public void close() throws SQLException {
        if (kind == Kind.POSTGRESQL) {
            try (Connection c = DriverManager.getConnection(postgresqlBaseUrl, user, password); Statement s = c.createStatement()) {
                s.execute("drop schema " + schema + " cascade");
            }
        }
    }

    @Override
    public String toString() {
        return kind.name().toLowerCase(Locale.ROOT);
    }
}

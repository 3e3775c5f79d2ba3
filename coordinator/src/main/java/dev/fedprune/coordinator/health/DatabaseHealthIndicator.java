package dev.fedprune.coordinator.health;

import com.zaxxer.hikari.HikariDataSource;
import com.zaxxer.hikari.HikariPoolMXBean;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

/**
 * The coordinator's database, through the pool the store uses: {@code select 1} answered within a
 * timeout. The query runs on a thread of its own, so that a database that hangs (or a pool with no
 * free connection, which waits up to Hikari's 30 s) gives a DOWN within the timeout instead of a
 * probe that hangs; checks that arrive while one is still waiting share it.
 */
public final class DatabaseHealthIndicator implements HealthIndicator, AutoCloseable {
    static final String QUERY = "select 1";

    private final HikariDataSource dataSource;
    private final Duration timeout;
    private final ExecutorService checker = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "fedprune-database-health");
        t.setDaemon(true);
        return t;
    });
    private Future<String> inFlight; // guarded by this

    public DatabaseHealthIndicator(HikariDataSource dataSource, Duration timeout) {
        this.dataSource = dataSource;
        this.timeout = timeout;
    }

    @Override
    public Health health() {
        Future<String> check;
        synchronized (this) {
            if (inFlight == null || inFlight.isDone()) {
                inFlight = checker.submit(this::selectOne);
            }
            check = inFlight;
        }
        try {
            String database = check.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            return Health.up().withDetail("database", database).withDetail("validationQuery", QUERY).withDetail("pool", pool()).build();
        } catch (TimeoutException e) {
            return Health.down().withDetail("error", QUERY + " did not answer within " + timeout.toMillis() + " ms")
                    .withDetail("pool", pool()).build();
        } catch (ExecutionException e) {
            return Health.down().withDetail("error", QUERY + " failed: " + e.getCause()).withDetail("pool", pool()).build();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Health.unknown().withDetail("error", "interrupted while waiting for " + QUERY).build();
        }
    }

    /** The database's product and version, once {@code select 1} has returned its row. */
    private String selectOne() throws SQLException {
        try (Connection c = dataSource.getConnection(); Statement s = c.createStatement()) {
            s.setQueryTimeout((int) Math.max(1, (timeout.toMillis() + 999) / 1000));
            try (var rows = s.executeQuery(QUERY)) {
                if (!rows.next() || rows.getInt(1) != 1) {
                    throw new SQLException(QUERY + " did not return 1");
                }
            }
            DatabaseMetaData meta = c.getMetaData();
            return meta.getDatabaseProductName() + " " + meta.getDatabaseProductVersion();
        }
    }

    private Map<String, Object> pool() {
        Map<String, Object> out = new LinkedHashMap<>();
        HikariPoolMXBean pool = dataSource.getHikariPoolMXBean();
        if (pool == null) {
            out.put("state", dataSource.isClosed() ? "closed" : "not started");
            return out;
        }
        out.put("active", pool.getActiveConnections());
        out.put("idle", pool.getIdleConnections());
        out.put("max", dataSource.getMaximumPoolSize());
        out.put("waiting", pool.getThreadsAwaitingConnection());
        return out;
    }

    @Override
    public void close() {
        checker.shutdownNow();
    }
}

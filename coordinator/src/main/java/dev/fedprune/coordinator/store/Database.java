package dev.fedprune.coordinator.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;

/** Opens the coordinator's database and brings its schema up to date with the Flyway migrations. */
public final class Database {
    private Database() {
    }

    /** A pooled data source; H2 file URLs like {@code jdbc:h2:file:./data/fedprune} or PostgreSQL URLs. */
    public static HikariDataSource open(String jdbcUrl, String user, String password) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(durable(jdbcUrl));
        config.setUsername(user);
        config.setPassword(password);
        config.setMaximumPoolSize(8);
        config.setPoolName("fedprune");
        HikariDataSource dataSource = new HikariDataSource(config);
        migrate(dataSource);
        return dataSource;
    }

    /**
     * An embedded H2 URL with {@code WRITE_DELAY=0} unless it sets a write delay itself: H2 otherwise
     * writes committed transactions to its file up to 500 ms later, so a coordinator killed right after
     * acknowledging a job or a contribution lost it. Other URLs are returned as they are.
     */
    static String durable(String jdbcUrl) {
        if (!jdbcUrl.startsWith("jdbc:h2:") || jdbcUrl.startsWith("jdbc:h2:mem:") || jdbcUrl.toUpperCase(java.util.Locale.ROOT).contains(";WRITE_DELAY=")) {
            return jdbcUrl;
        }
        return jdbcUrl + ";WRITE_DELAY=0";
    }

    public static void migrate(DataSource dataSource) {
        Flyway.configure().dataSource(dataSource).locations("classpath:db/migration").load().migrate();
    }
}

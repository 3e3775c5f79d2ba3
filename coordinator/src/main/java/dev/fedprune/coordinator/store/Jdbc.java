package dev.fedprune.coordinator.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;
import javax.sql.DataSource;

/**
 * A few lines of plain JDBC so that the engine's store needs neither Spring nor an ORM.
 *
 * <p>Each statement commits on its own, unless it runs inside {@link #inTransaction}: then every
 * statement on the same data source, from any {@code Jdbc} over it and on the same thread, joins one
 * transaction that commits when the outermost block returns and rolls back when it throws. Work to
 * do once the transaction is durable (telling listeners) goes to {@link #afterCommit}.
 */
public final class Jdbc {
    /** Maps the current row of a result set. */
    @FunctionalInterface
    public interface RowMapper<T> {
        T map(ResultSet rs) throws SQLException;
    }

    /** The transaction this thread is in: its connection, its data source and what runs after it commits. */
    private record Transaction(DataSource dataSource, Connection connection, List<Runnable> afterCommit) {
    }

    private static final ThreadLocal<Transaction> CURRENT = new ThreadLocal<>();

    private final DataSource dataSource;

    public Jdbc(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /**
     * Runs {@code work} in one transaction: all of its statements are committed together or not at
     * all. Nested calls join the outer transaction.
     */
    public <T> T inTransaction(Supplier<T> work) {
        Transaction outer = CURRENT.get();
        if (outer != null) {
            if (outer.dataSource() != dataSource) {
                throw new IllegalStateException("a transaction on another data source is open on this thread");
            }
            return work.get();
        }
        T result;
        List<Runnable> afterCommit = new ArrayList<>();
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            CURRENT.set(new Transaction(dataSource, c, afterCommit));
            try {
                result = work.get();
                c.commit();
            } catch (SQLException | RuntimeException | Error e) {
                // The pool also rolls back a connection handed back uncommitted; this makes it explicit.
                rollback(c, e);
                throw e;
            } finally {
                CURRENT.remove();
            }
            c.setAutoCommit(true);
        } catch (SQLException e) {
            throw new StoreException("transaction", e);
        }
        afterCommit.forEach(Runnable::run);
        return result;
    }

    public void inTransaction(Runnable work) {
        inTransaction(() -> {
            work.run();
            return null;
        });
    }

    /** Runs {@code action} once the current transaction has committed, or now when there is none; never after a rollback. */
    public static void afterCommit(Runnable action) {
        Transaction t = CURRENT.get();
        if (t == null) {
            action.run();
        } else {
            t.afterCommit().add(action);
        }
    }

    private static void rollback(Connection c, Throwable cause) {
        try {
            c.rollback();
        } catch (SQLException e) {
            cause.addSuppressed(e);
        }
    }

    public int update(String sql, Object... args) {
        return withConnection(sql, c -> {
            try (PreparedStatement ps = prepare(c, sql, args)) {
                return ps.executeUpdate();
            }
        });
    }

    public <T> List<T> query(String sql, RowMapper<T> mapper, Object... args) {
        return withConnection(sql, c -> {
            try (PreparedStatement ps = prepare(c, sql, args); ResultSet rs = ps.executeQuery()) {
                List<T> out = new ArrayList<>();
                while (rs.next()) {
                    out.add(mapper.map(rs));
                }
                return out;
            }
        });
    }

    public <T> Optional<T> queryOne(String sql, RowMapper<T> mapper, Object... args) {
        List<T> rows = query(sql, mapper, args);
        return rows.isEmpty() ? Optional.empty() : Optional.of(rows.get(0));
    }

    @FunctionalInterface
    private interface SqlWork<T> {
        T run(Connection c) throws SQLException;
    }

    /** Runs on this thread's transaction when it has one on this data source, else on a pooled connection that commits at once. */
    private <T> T withConnection(String sql, SqlWork<T> work) {
        Transaction t = CURRENT.get();
        try {
            if (t != null && t.dataSource() == dataSource) {
                return work.run(t.connection());
            }
            try (Connection c = dataSource.getConnection()) {
                return work.run(c);
            }
        } catch (SQLException e) {
            throw new StoreException(sql, e);
        }
    }

    private static PreparedStatement prepare(Connection c, String sql, Object... args) throws SQLException {
        PreparedStatement ps = c.prepareStatement(sql);
        for (int i = 0; i < args.length; i++) {
            ps.setObject(i + 1, args[i]);
        }
        return ps;
    }

    /** A database error, with the statement that failed. */
    public static final class StoreException extends RuntimeException {
        StoreException(String sql, SQLException cause) {
            super("database error in [" + sql + "]: " + cause.getMessage(), cause);
        }
    }
}

package dev.fedprune.coordinator.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.zaxxer.hikari.HikariDataSource;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A row the coordinator's database acknowledged survives SIGKILL of the process right after the
 * acknowledgement: a child JVM opens the embedded H2 file the way the coordinator does, commits an
 * insert, prints "acknowledged", and is killed with {@code kill -9} at once.
 */
class H2DurabilityTest {
    @TempDir
    Path dir;

    /** The child: commits one row and waits to be killed. */
    public static void main(String[] args) throws Exception {
        try (HikariDataSource db = Database.open(args[0], "sa", "")) {
            try (Connection c = db.getConnection(); Statement s = c.createStatement()) {
                s.executeUpdate("insert into acknowledged (id) values ('job-1')");
            }
            System.out.println("acknowledged");
            System.out.flush();
            Thread.sleep(60_000);
        }
    }

    @Test
    void aCommittedRowSurvivesKillNineRightAfterItsAcknowledgement() throws Exception {
        String url = "jdbc:h2:file:" + dir.resolve("db").resolve("fedprune") + ";AUTO_SERVER=FALSE";
        try (HikariDataSource db = Database.open(url, "sa", ""); Connection c = db.getConnection(); Statement s = c.createStatement()) {
            s.executeUpdate("create table acknowledged (id varchar(64) primary key)"); // closed cleanly: on disk
        }
        Process child = new ProcessBuilder(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                System.getProperty("java.class.path"), H2DurabilityTest.class.getName(), url)).redirectErrorStream(true).start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = out.readLine()) != null && !line.equals("acknowledged")) {
                // Flyway and pool start-up lines
            }
            assertEquals("acknowledged", line, "the child ended before acknowledging");
            child.destroyForcibly(); // SIGKILL: no shutdown hook, no database close
        }
        assertTrue(child.waitFor(30, TimeUnit.SECONDS));
        assertEquals(137, child.exitValue(), "killed by SIGKILL");
        try (HikariDataSource db = Database.open(url, "sa", ""); Connection c = db.getConnection(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("select count(*) from acknowledged where id = 'job-1'")) {
            assertTrue(rs.next());
            assertEquals(1, rs.getInt(1), "the acknowledged row was lost");
        }
    }

    @Test
    void onlyEmbeddedH2UrlsWithoutTheirOwnWriteDelayGetWriteDelayZero() {
        assertEquals("jdbc:h2:file:/d/f;AUTO_SERVER=FALSE;WRITE_DELAY=0", Database.durable("jdbc:h2:file:/d/f;AUTO_SERVER=FALSE"));
        assertEquals("jdbc:h2:file:/d/f;write_delay=100", Database.durable("jdbc:h2:file:/d/f;write_delay=100"));
        assertEquals("jdbc:h2:mem:x", Database.durable("jdbc:h2:mem:x"));
        assertEquals("jdbc:postgresql://db/fedprune", Database.durable("jdbc:postgresql://db/fedprune"));
    }
}

package dev.fedprune.coordinator.app;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * The coordinator's configuration, under the {@code fedprune.} prefix.
 *
 * @param dataDir         database (H2 default), artifacts and job results
 * @param jobFile         a job spec (YAML/JSON) submitted at start-up, if set
 * @param database        JDBC settings; an empty url means the embedded H2 file database in dataDir
 * @param security        keystore, TLS names, agent certificate lifetime and the initial admin (see README "Security")
 * @param health          limits of the actuator's health checks (see README "Operations")
 */
@ConfigurationProperties("fedprune")
public record CoordinatorProperties(
        @DefaultValue("fedprune-data") Path dataDir,
        Path jobFile,
        @DefaultValue Grpc grpc,
        @DefaultValue Database database,
        @DefaultValue("30") int agentTimeoutSeconds,
        @DefaultValue("5") int heartbeatIntervalSeconds,
        @DefaultValue("200") long tickMillis,
        @DefaultValue Security security,
        @DefaultValue Health health) {

    public record Grpc(@DefaultValue("0.0.0.0") String bindAddress, @DefaultValue("50051") int port) {
    }

    public record Database(@DefaultValue("") String url, @DefaultValue("sa") String user, @DefaultValue("") String password) {
        @Override
        public String toString() {
            return "Database[url=" + url + ", user=" + user + ", password=***]";
        }
    }

    /**
     * @param databaseTimeout    the database check is DOWN when {@code select 1} has not answered within this
     * @param engineStalledAfter the engine check is DOWN when no tick has completed for this long, or for five tick
     *                           intervals if that is longer; a tick that aggregates a round lasts as long as the aggregation
     */
    public record Health(@DefaultValue("2s") Duration databaseTimeout, @DefaultValue("30s") Duration engineStalledAfter) {
    }

    /**
     * @param keystore                  the PKCS#12 keystore of the CA, TLS and signing keys in dataDir/security
     * @param serverNames               host names and IP addresses written into the coordinator's TLS certificate
     * @param agentCertificateValidity  lifetime of agent certificates (agents renew after two thirds of it)
     * @param admin                     the first admin account, created when no operator exists
     */
    public record Security(@DefaultValue Keystore keystore, @DefaultValue({"localhost", "127.0.0.1"}) List<String> serverNames,
                           @DefaultValue("7d") Duration agentCertificateValidity, @DefaultValue Admin admin) {
    }

    /** @param password env FEDPRUNE_SECURITY_KEYSTORE_PASSWORD; empty = generated once into dataDir/security (development only) */
    public record Keystore(@DefaultValue("") String password) {
        @Override
        public String toString() {
            return "Keystore[password=***]";
        }
    }

    /**
     * @param username the initial admin's name
     * @param password env FEDPRUNE_SECURITY_ADMIN_PASSWORD; creates the admin when no operator account exists
     * @param token    env FEDPRUNE_SECURITY_ADMIN_TOKEN; a bearer API token registered (hashed) for the admin, for automation
     */
    public record Admin(@DefaultValue("admin") String username, @DefaultValue("") String password, @DefaultValue("") String token) {
        @Override
        public String toString() {
            return "Admin[username=" + username + ", password=***, token=***]";
        }
    }
}

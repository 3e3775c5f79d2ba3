package dev.fedprune.coordinator.app;

import java.nio.file.Path;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * The coordinator's configuration, under the {@code fedprune.} prefix.
 *
 * @param dataDir         database (H2 default), artifacts and job results
 * @param jobFile         a job spec (YAML/JSON) submitted at start-up, if set
 * @param database        JDBC settings; an empty url means the embedded H2 file database in dataDir
 */
@ConfigurationProperties("fedprune")
public record CoordinatorProperties(
        @DefaultValue("fedprune-data") Path dataDir,
        Path jobFile,
        @DefaultValue Grpc grpc,
        @DefaultValue Database database,
        @DefaultValue("30") int agentTimeoutSeconds,
        @DefaultValue("5") int heartbeatIntervalSeconds,
        @DefaultValue("200") long tickMillis) {

    public record Grpc(@DefaultValue("0.0.0.0") String bindAddress, @DefaultValue("50051") int port) {
    }

    public record Database(@DefaultValue("") String url, @DefaultValue("sa") String user, @DefaultValue("") String password) {
    }
}

package dev.fedprune.coordinator.app;

import dev.fedprune.coordinator.cli.OperatorCli;
import dev.fedprune.coordinator.job.JobSpecParser;
import dev.fedprune.coordinator.node.CoordinatorNode;
import dev.fedprune.coordinator.metrics.CoordinatorMetrics;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.nio.file.Files;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.ApplicationContext;
import org.springframework.context.ApplicationListener;
import org.springframework.context.event.ContextClosedEvent;
import org.springframework.context.annotation.Bean;

/** The coordinator service: the Spring shell (REST, actuator) around a {@link CoordinatorNode}. */
@SpringBootApplication(scanBasePackages = "dev.fedprune.coordinator")
@EnableConfigurationProperties(CoordinatorProperties.class)
public class CoordinatorApplication {
    private static final Logger log = LoggerFactory.getLogger(CoordinatorApplication.class);

    /** Starts the coordinator, or runs the operator CLI when the first argument is one of its commands. */
    public static void main(String[] args) {
        if (OperatorCli.handles(args)) {
            System.exit(OperatorCli.run(System.out, System.err, args));
        }
        SpringApplication.run(CoordinatorApplication.class, args);
    }

    @Bean
    CoordinatorMetrics coordinatorMetrics(MeterRegistry registry) {
        return new CoordinatorMetrics(registry);
    }

    @Bean(destroyMethod = "close")
    CoordinatorNode coordinatorNode(CoordinatorProperties p, CoordinatorMetrics metrics) throws IOException {
        CoordinatorNode.Config config = new CoordinatorNode.Config(p.dataDir(), p.grpc().bindAddress(), p.grpc().port(),
                p.database().url(), p.database().user(), p.database().password(), p.agentTimeoutSeconds(),
                p.heartbeatIntervalSeconds(), p.tickMillis())
                .withSecurity(new CoordinatorNode.Security(p.security().keystore().password(), p.security().serverNames(),
                        p.security().agentCertificateValidity()));
        CoordinatorNode node = CoordinatorNode.start(config, metrics);
        metrics.bind(node);
        return node;
    }

    /**
     * gRPC health turns NOT_SERVING as soon as the application starts closing, before the web server
     * stops and before the node's own close stops the gRPC server. A child context (a separate
     * management port) closing is not the application closing.
     */
    @Bean
    ApplicationListener<ContextClosedEvent> stopServingOnClose(CoordinatorNode node, ApplicationContext application) {
        return event -> {
            if (event.getApplicationContext() == application) {
                node.stopServing();
            }
        };
    }

    /** Submits the job file given at start-up, once the service is ready. */
    @Bean
    ApplicationListener<ApplicationReadyEvent> submitJobFile(CoordinatorProperties p, CoordinatorNode node) {
        return event -> {
            if (p.jobFile() == null) {
                return;
            }
            try {
                String id = node.engine().submit(JobSpecParser.parse(Files.readString(p.jobFile())));
                log.info("submitted job {} from {}", id, p.jobFile());
            } catch (IOException | RuntimeException e) {
                log.error("job file {} was not submitted: {}", p.jobFile(), e.getMessage());
            }
        };
    }
}

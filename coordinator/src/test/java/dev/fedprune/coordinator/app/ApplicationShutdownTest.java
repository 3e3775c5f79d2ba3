package dev.fedprune.coordinator.app;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.fedprune.coordinator.node.CoordinatorNode;
import io.grpc.ManagedChannel;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;

/**
 * Closing the coordinator application (what SIGTERM does) turns gRPC health NOT_SERVING first:
 * before any bean that uses the node is destroyed, and so before the node stops its gRPC server.
 */
class ApplicationShutdownTest {
    /** What {@link CoordinatorNode#grpcServing()} said when the first bean that depends on the node was destroyed. */
    static final AtomicReference<Boolean> SERVING_AT_FIRST_DESTROY = new AtomicReference<>();

    @TempDir
    Path dir;

    /** Destroyed before the node it depends on, as every user of the node is. */
    @TestConfiguration(proxyBeanMethods = false)
    static class Witness {
        @Bean
        AutoCloseable nodeUser(CoordinatorNode node) {
            return () -> SERVING_AT_FIRST_DESTROY.compareAndSet(null, node.grpcServing());
        }
    }

    @Test
    void closingTheApplicationTurnsGrpcHealthNotServingBeforeItsBeansAreDestroyed() throws Exception {
        ConfigurableApplicationContext app = new SpringApplicationBuilder(CoordinatorApplication.class, Witness.class).run(
                "--server.port=0", "--fedprune.grpc.port=0", "--fedprune.grpc.bind-address=127.0.0.1",
                "--fedprune.data-dir=" + dir.resolve("coordinator"), "--fedprune.security.keystore.password=test-keystore-password");
        CoordinatorNode node = app.getBean(CoordinatorNode.class);
        ManagedChannel caOnly = NettyChannelBuilder.forTarget("127.0.0.1:" + node.grpcPort())
                .sslContext(GrpcSslContexts.forClient()
                        .trustManager(new ByteArrayInputStream(node.pki().caCertificatePem().getBytes(StandardCharsets.US_ASCII))).build())
                .build();
        try {
            BlockingQueue<Object> seen = new LinkedBlockingQueue<>();
            HealthGrpc.newStub(caOnly).watch(HealthCheckRequest.getDefaultInstance(), new StreamObserver<>() {
                @Override
                public void onNext(HealthCheckResponse r) {
                    seen.add(r.getStatus());
                    if (r.getStatus() == ServingStatus.NOT_SERVING) {
                        caOnly.shutdownNow();
                    }
                }

                @Override
                public void onError(Throwable t) {
                    seen.add(io.grpc.Status.fromThrowable(t).getCode());
                }

                @Override
                public void onCompleted() {
                    seen.add("completed");
                }
            });
            assertEquals(ServingStatus.SERVING, seen.poll(10, TimeUnit.SECONDS));

            app.close();
            assertEquals(ServingStatus.NOT_SERVING, seen.poll(10, TimeUnit.SECONDS));
            assertEquals(Boolean.FALSE, SERVING_AT_FIRST_DESTROY.get(), "NOT_SERVING before the beans using the node were destroyed");
        } finally {
            caOnly.shutdownNow();
            app.close();
        }
    }
}

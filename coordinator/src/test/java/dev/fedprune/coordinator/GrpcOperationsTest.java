package dev.fedprune.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.DescriptorProtos.MethodDescriptorProto;
import com.google.protobuf.DescriptorProtos.ServiceDescriptorProto;
import dev.fedprune.agent.connection.CoordinatorClient;
import dev.fedprune.coordinator.health.EngineHealthIndicator;
import dev.fedprune.coordinator.health.GrpcHealthIndicator;
import dev.fedprune.proto.v1.AgentServiceGrpc;
import dev.fedprune.proto.v1.AgentState;
import dev.fedprune.proto.v1.HeartbeatRequest;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.reflection.v1.ServiceResponse;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.Status;

/**
 * What operators' tools see of a real coordinator's gRPC server, over TLS with no client certificate
 * (only the CA, as grpcurl or grpc-health-probe hold it): health SERVING while up and NOT_SERVING from
 * the first step of shutdown, reflection describing the agent service, and the agent service itself
 * still refusing such a caller. Also the actuator's checks of the same node's gRPC server and round
 * engine, without Spring.
 */
class GrpcOperationsTest {
    @TempDir
    Path dir;
    Federation fed;
    /** Trusts the coordinator's CA the standard way (chain and host name), and presents no certificate. */
    ManagedChannel caOnly;

    @BeforeEach
    void start() throws Exception {
        fed = new Federation(dir.resolve("coord"));
        caOnly = NettyChannelBuilder.forTarget(fed.target())
                .sslContext(GrpcSslContexts.forClient()
                        .trustManager(new ByteArrayInputStream(fed.node.pki().caCertificatePem().getBytes(StandardCharsets.US_ASCII))).build())
                .build();
    }

    @AfterEach
    void stop() throws Exception {
        caOnly.shutdownNow();
        fed.close();
    }

    ServingStatus check(String service) {
        return HealthGrpc.newBlockingStub(caOnly).withDeadlineAfter(10, TimeUnit.SECONDS)
                .check(HealthCheckRequest.newBuilder().setService(service).build()).getStatus();
    }

    @Test
    void healthIsServingWithoutAnAgentCertificateWhileAgentCallsStillNeedOne() {
        assertEquals(ServingStatus.SERVING, check(""));
        assertEquals(ServingStatus.SERVING, check(AgentServiceGrpc.SERVICE_NAME));
        StatusRuntimeException refused = assertThrows(StatusRuntimeException.class,
                () -> AgentServiceGrpc.newBlockingStub(caOnly).withDeadlineAfter(10, TimeUnit.SECONDS).heartbeat(HeartbeatRequest.getDefaultInstance()));
        assertEquals(io.grpc.Status.Code.UNAUTHENTICATED, refused.getStatus().getCode(), refused.toString());

        Health grpc = new GrpcHealthIndicator(fed.node).health();
        assertEquals(Status.UP, grpc.getStatus(), grpc.toString());
        assertEquals(List.of("/127.0.0.1:" + fed.node.grpcPort()), grpc.getDetails().get("listening"));
    }

    @Test
    void stopServingTurnsHealthNotServingWhileTheServerStillTakesCalls() {
        CoordinatorClient alice = fed.enrolledClient("alice");
        fed.node.stopServing();
        fed.node.stopServing(); // a second call (the Spring close event, then the node's close) changes nothing

        assertEquals(ServingStatus.NOT_SERVING, check(""));
        assertEquals(ServingStatus.NOT_SERVING, check(AgentServiceGrpc.SERVICE_NAME));
        alice.heartbeat(AgentState.AGENT_STATE_IDLE, null); // agents in the middle of something are still answered until the server stops
        Health grpc = new GrpcHealthIndicator(fed.node).health();
        assertEquals(Status.DOWN, grpc.getStatus(), grpc.toString());
        assertEquals("shutting down: gRPC health answers NOT_SERVING", grpc.getDetails().get("error"));
    }

    @Test
    void aWatcherIsToldNotServingWhenCloseBeginsBeforeTheServerGoes() throws Exception {
        BlockingQueue<Object> seen = new LinkedBlockingQueue<>();
        HealthGrpc.newStub(caOnly).watch(HealthCheckRequest.getDefaultInstance(), new StreamObserver<>() {
            @Override
            public void onNext(HealthCheckResponse r) {
                seen.add(r.getStatus());
                if (r.getStatus() == ServingStatus.NOT_SERVING) {
                    caOnly.shutdownNow(); // a watcher that heeds it goes, and lets the server stop without waiting for it
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

        CompletableFuture<Void> closing = CompletableFuture.runAsync(() -> fed.node.close());
        assertEquals(ServingStatus.NOT_SERVING, seen.poll(10, TimeUnit.SECONDS), "the open watch hears NOT_SERVING before its stream is closed");
        closing.get(30, TimeUnit.SECONDS);
        assertTrue(fed.node.grpcListenAddresses().isEmpty());
        Health grpc = new GrpcHealthIndicator(fed.node).health();
        assertEquals(Status.DOWN, grpc.getStatus());
        assertEquals("the gRPC server is shut down", grpc.getDetails().get("error"));
    }

    @Test
    void reflectionListsAndDescribesTheAgentService() throws Exception {
        List<String> services = reflect(ServerReflectionRequest.newBuilder().setListServices("").build())
                .getListServicesResponse().getServiceList().stream().map(ServiceResponse::getName).toList();
        assertTrue(services.containsAll(List.of(AgentServiceGrpc.SERVICE_NAME, HealthGrpc.SERVICE_NAME, ServerReflectionGrpc.SERVICE_NAME,
                "grpc.reflection.v1alpha.ServerReflection")), services.toString());

        // What `grpcurl describe fedprune.v1.AgentService` reads: the file that declares it, with every method.
        List<FileDescriptorProto> files = new ArrayList<>();
        for (ByteString bytes : reflect(ServerReflectionRequest.newBuilder().setFileContainingSymbol(AgentServiceGrpc.SERVICE_NAME).build())
                .getFileDescriptorResponse().getFileDescriptorProtoList()) {
            files.add(FileDescriptorProto.parseFrom(bytes));
        }
        ServiceDescriptorProto agentService = files.stream().filter(f -> f.getPackage().equals("fedprune.v1"))
                .flatMap(f -> f.getServiceList().stream()).filter(s -> s.getName().equals("AgentService")).findFirst().orElse(null);
        assertNotNull(agentService, files.toString());
        List<String> methods = agentService.getMethodList().stream().map(MethodDescriptorProto::getName).toList();
        assertEquals(AgentServiceGrpc.getServiceDescriptor().getMethods().stream().map(m -> m.getBareMethodName()).sorted().toList(),
                methods.stream().sorted().toList());

        // Older tools ask v1alpha.
        io.grpc.reflection.v1alpha.ServerReflectionResponse alpha = reflectV1alpha();
        assertTrue(alpha.getListServicesResponse().getServiceList().stream().anyMatch(s -> s.getName().equals(AgentServiceGrpc.SERVICE_NAME)),
                alpha.toString());
    }

    @Test
    void engineIsDownWhenNoTickCompletesOrTheTickerIsStopped() throws InterruptedException {
        for (int i = 0; i < 200 && fed.node.engine().tickerStatus().lastSuccessfulTickAt() < 0; i++) {
            Thread.sleep(50);
        }
        EngineHealthIndicator now = new EngineHealthIndicator(fed.node.engine(), System::currentTimeMillis, Duration.ofSeconds(30));
        Health up = now.health();
        assertEquals(Status.UP, up.getStatus(), up.toString());
        assertEquals(50L, up.getDetails().get("tickMillis"));

        // A minute later on the clock without another tick: stuck or dead, whichever the ticker was doing at that moment.
        Health staleHealth = new EngineHealthIndicator(fed.node.engine(), () -> System.currentTimeMillis() + 60_000, Duration.ofSeconds(30)).health();
        assertEquals(Status.DOWN, staleHealth.getStatus(), staleHealth.toString());
        String error = (String) staleHealth.getDetails().get("error");
        assertTrue(error.matches("(stuck|dead): no tick has (completed|run) for 6\\d\\.\\d s; .*"), error);
        assertEquals(30_000L, staleHealth.getDetails().get("allowedMillis"));

        fed.node.engine().close();
        Health stopped = now.health();
        assertEquals(Status.DOWN, stopped.getStatus());
        assertEquals("the round engine's ticker is not running (the engine was closed or never started)", stopped.getDetails().get("error"));
    }

    ServerReflectionResponse reflect(ServerReflectionRequest request) throws Exception {
        CompletableFuture<ServerReflectionResponse> answer = new CompletableFuture<>();
        StreamObserver<ServerReflectionRequest> requests = ServerReflectionGrpc.newStub(caOnly).withDeadlineAfter(10, TimeUnit.SECONDS)
                .serverReflectionInfo(observer(answer));
        requests.onNext(request);
        requests.onCompleted();
        ServerReflectionResponse r = answer.get(10, TimeUnit.SECONDS);
        assertTrue(!r.hasErrorResponse(), r.toString());
        return r;
    }

    io.grpc.reflection.v1alpha.ServerReflectionResponse reflectV1alpha() throws Exception {
        CompletableFuture<io.grpc.reflection.v1alpha.ServerReflectionResponse> answer = new CompletableFuture<>();
        StreamObserver<io.grpc.reflection.v1alpha.ServerReflectionRequest> requests = io.grpc.reflection.v1alpha.ServerReflectionGrpc.newStub(caOnly)
                .withDeadlineAfter(10, TimeUnit.SECONDS).serverReflectionInfo(observer(answer));
        requests.onNext(io.grpc.reflection.v1alpha.ServerReflectionRequest.newBuilder().setListServices("").build());
        requests.onCompleted();
        return answer.get(10, TimeUnit.SECONDS);
    }

    static <T> StreamObserver<T> observer(CompletableFuture<T> first) {
        return new StreamObserver<>() {
            @Override
            public void onNext(T value) {
                first.complete(value);
            }

            @Override
            public void onError(Throwable t) {
                first.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
                first.completeExceptionally(new AssertionError("no answer"));
            }
        };
    }
}

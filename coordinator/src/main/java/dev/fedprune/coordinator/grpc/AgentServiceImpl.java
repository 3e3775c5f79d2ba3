package dev.fedprune.coordinator.grpc;

import com.google.protobuf.ByteString;
import dev.fedprune.coordinator.agent.AgentRegistry;
import dev.fedprune.coordinator.security.AgentPki;
import dev.fedprune.coordinator.security.AuditLog;
import dev.fedprune.coordinator.security.EnrollmentService;
import dev.fedprune.coordinator.artifact.ArtifactStore;
import dev.fedprune.coordinator.error.PermissionDeniedException;
import dev.fedprune.coordinator.round.RoundEngine;
import dev.fedprune.coordinator.store.CoordinatorStore;
import dev.fedprune.coordinator.store.Records.AgentRecord;
import dev.fedprune.coordinator.store.Records.UploadRecord;
import dev.fedprune.proto.v1.AgentCredentials;
import dev.fedprune.proto.v1.AgentServiceGrpc;
import dev.fedprune.proto.v1.ArtifactChunk;
import dev.fedprune.proto.v1.ContributionChunk;
import dev.fedprune.proto.v1.DownloadArtifactRequest;
import dev.fedprune.proto.v1.EnrollRequest;
import dev.fedprune.proto.v1.EnrollResponse;
import dev.fedprune.proto.v1.HeartbeatRequest;
import dev.fedprune.proto.v1.HeartbeatResponse;
import dev.fedprune.proto.v1.MetricsAck;
import dev.fedprune.proto.v1.MetricsReport;
import dev.fedprune.proto.v1.PullTaskRequest;
import dev.fedprune.proto.v1.PullTaskResponse;
import dev.fedprune.proto.v1.RenewRequest;
import dev.fedprune.proto.v1.TaskFailureAck;
import dev.fedprune.proto.v1.TaskFailureOutcome;
import dev.fedprune.proto.v1.TaskFailureReport;
import dev.fedprune.proto.v1.UploadReceipt;
import dev.fedprune.proto.v1.UploadStatus;
import dev.fedprune.proto.v1.UploadStatusRequest;
import dev.fedprune.security.pki.Pem;
import dev.fedprune.security.sign.ReplayGuard;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.Callable;
import java.util.function.LongSupplier;

/**
 * The coordinator's side of {@code fedprune.v1.AgentService}: enrolls agents, serves each call for
 * the agent its mTLS certificate names ({@link AgentIdentityInterceptor}) and signs the tasks it hands
 * out; artifacts are streamed by {@link ArtifactDownloads}, and chunked uploads assembled and verified
 * by {@link ContributionUploads}.
 */
public final class AgentServiceImpl extends AgentServiceGrpc.AgentServiceImplBase {
    private final AgentRegistry agents;
    private final RoundEngine engine;
    private final CoordinatorStore store;
    private final LongSupplier clock;
    private final int heartbeatIntervalSeconds;
    private final AgentPki pki;
    private final EnrollmentService enrollment;
    private final ArtifactDownloads downloads;
    private final ContributionUploads uploads;

    public AgentServiceImpl(AgentRegistry agents, RoundEngine engine, ArtifactStore artifacts, CoordinatorStore store,
                            LongSupplier clock, int heartbeatIntervalSeconds, AgentPki pki, EnrollmentService enrollment,
                            ReplayGuard replayGuard, AuditLog audit) {
        this.pki = pki;
        this.enrollment = enrollment;
        this.agents = agents;
        this.engine = engine;
        this.store = store;
        this.clock = clock;
        this.heartbeatIntervalSeconds = heartbeatIntervalSeconds;
        this.downloads = new ArtifactDownloads(artifacts, pki);
        this.uploads = new ContributionUploads(engine, artifacts, store, clock, pki, replayGuard, audit);
    }

    private static <T> void unary(String call, StreamObserver<T> observer, Callable<T> body) {
        T response;
        try {
            response = body.call();
        } catch (Exception e) {
            observer.onError(GrpcErrors.toStatus(call, e));
            return;
        }
        observer.onNext(response);
        observer.onCompleted();
    }

    /** The caller, from its certificate; the deprecated credentials field of the request is ignored. */
    private AgentRecord authenticate(AgentCredentials ignored) {
        return AgentIdentityInterceptor.current().agent();
    }

    private EnrollResponse issued(EnrollmentService.Issued issued) {
        return EnrollResponse.newBuilder().setAgentId(issued.agent().id()).setCertificatePem(Pem.write(issued.certificate()))
                .setCaCertificatePem(pki.caCertificatePem()).setSigningCertificatePem(pki.signingCertificatePem())
                .setCertificateNotAfterMillis(issued.certificate().getNotAfter().getTime())
                .setHeartbeatIntervalSeconds(heartbeatIntervalSeconds).build();
    }

    @Override
    public void enroll(EnrollRequest request, StreamObserver<EnrollResponse> observer) {
        unary("Enroll", observer, () -> issued(enrollment.enroll(request.getEnrollmentToken(), request.getCsrPem(),
                AgentInputs.text("name", request.getName(), AgentInputs.MAX_TEXT_CHARS), AgentInputs.text("site", request.getSite(), AgentInputs.MAX_TEXT_CHARS),
                AgentInputs.resources(request.getResources()), AgentIdentityInterceptor.PEER.get())));
    }

    @Override
    public void renew(RenewRequest request, StreamObserver<EnrollResponse> observer) {
        unary("Renew", observer, () -> issued(enrollment.renew(AgentIdentityInterceptor.current().agent(), request.getCsrPem(),
                AgentIdentityInterceptor.PEER.get())));
    }

    @Override
    public void heartbeat(HeartbeatRequest request, StreamObserver<HeartbeatResponse> observer) {
        unary("Heartbeat", observer, () -> {
            AgentRecord agent = authenticate(request.getCredentials());
            String current = request.getCurrentTaskId().isEmpty() ? null : AgentInputs.id("current_task_id", request.getCurrentTaskId());
            agents.heartbeat(agent.id(), request.getState().name().replace("AGENT_STATE_", ""), current,
                    request.hasResources() ? AgentInputs.resources(request.getResources()) : null);
            HeartbeatResponse.Builder response = HeartbeatResponse.newBuilder().setServerTimeMillis(clock.getAsLong());
            // A task the agent is working on that no longer takes a contribution (its round closed, its job
            // failed or was cancelled): the agent stops and uploads nothing.
            if (current != null) {
                store.task(current).filter(t -> t.agentId().equals(agent.id()))
                        .filter(t -> !t.state().equals("ASSIGNED") && !t.state().equals("PULLED") && !t.state().equals("FOLDED"))
                        .ifPresent(t -> response.addCancelledTaskIds(t.id()));
            }
            return response.build();
        });
    }

    @Override
    public void pullTask(PullTaskRequest request, StreamObserver<PullTaskResponse> observer) {
        unary("PullTask", observer, () -> {
            AgentRecord agent = authenticate(request.getCredentials());
            PullTaskResponse response = engine.pullTask(agent);
            if (!response.hasTask()) {
                return response;
            }
            // The agent uses the exact bytes that were signed, so no canonical re-encoding is needed.
            byte[] task = response.getTask().toByteArray();
            return response.toBuilder().setSignedTask(ByteString.copyFrom(task))
                    .setTaskSignature(ByteString.copyFrom(pki.signTask(agent.id(), task))).build();
        });
    }

    @Override
    public void reportMetrics(MetricsReport request, StreamObserver<MetricsAck> observer) {
        unary("ReportMetrics", observer, () -> {
            engine.recordMetrics(authenticate(request.getCredentials()), AgentInputs.id("task_id", request.getTaskId()),
                    AgentInputs.metrics(request.getValuesMap()));
            return MetricsAck.getDefaultInstance();
        });
    }

    @Override
    public void reportTaskFailure(TaskFailureReport request, StreamObserver<TaskFailureAck> observer) {
        unary("ReportTaskFailure", observer, () -> {
            RoundEngine.FailureOutcome outcome = engine.reportTaskFailure(AgentIdentityInterceptor.current().agent(),
                    AgentInputs.id("task_id", request.getTaskId()), AgentInputs.failureReason(request.getReason()), request.getRetryable());
            return TaskFailureAck.newBuilder().setOutcome(switch (outcome) {
                case REISSUED -> TaskFailureOutcome.TASK_FAILURE_OUTCOME_REISSUED;
                case RETRY_LATER -> TaskFailureOutcome.TASK_FAILURE_OUTCOME_RETRY_LATER;
                case CLOSED -> TaskFailureOutcome.TASK_FAILURE_OUTCOME_CLOSED;
            }).build();
        });
    }

    @Override
    public void getUploadStatus(UploadStatusRequest request, StreamObserver<UploadStatus> observer) {
        unary("GetUploadStatus", observer, () -> {
            AgentRecord agent = authenticate(request.getCredentials());
            UploadRecord u = store.upload(request.getUploadId()).orElse(null);
            if (u == null) {
                return UploadStatus.newBuilder().setUploadId(request.getUploadId()).setCommittedBytes(0).build();
            }
            if (!u.agentId().equals(agent.id())) {
                throw new PermissionDeniedException("upload_id: upload " + u.id() + " belongs to another agent");
            }
            return UploadStatus.newBuilder().setUploadId(u.id()).setCommittedBytes(u.committedBytes())
                    .setComplete(u.state().equals("COMPLETE")).build();
        });
    }

    @Override
    public void downloadArtifact(DownloadArtifactRequest request, StreamObserver<ArtifactChunk> observer) {
        downloads.serve(request, observer);
    }

    @Override
    public StreamObserver<ContributionChunk> uploadContribution(StreamObserver<UploadReceipt> receipt) {
        return uploads.open(receipt);
    }
}

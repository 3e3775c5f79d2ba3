package dev.fedprune.coordinator.grpc;

import com.google.protobuf.ByteString;
import dev.fedprune.aggregation.format.Digests;
import dev.fedprune.coordinator.agent.AgentRegistry;
import dev.fedprune.coordinator.grpc.AgentIdentityInterceptor.AuthenticatedAgent;
import dev.fedprune.coordinator.security.AgentPki;
import dev.fedprune.coordinator.security.AuditLog;
import dev.fedprune.coordinator.security.EnrollmentService;
import dev.fedprune.coordinator.artifact.ArtifactStore;
import dev.fedprune.coordinator.error.InvalidUploadException;
import dev.fedprune.coordinator.error.PermissionDeniedException;
import dev.fedprune.coordinator.round.RoundEngine;
import dev.fedprune.coordinator.store.CoordinatorStore;
import dev.fedprune.coordinator.store.Records.AgentRecord;
import dev.fedprune.coordinator.store.Records.TaskRecord;
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
import dev.fedprune.security.InvalidSecurityInputException;
import dev.fedprune.security.ReplayedNonceException;
import dev.fedprune.security.SignatureRejectedException;
import dev.fedprune.security.pki.Pem;
import dev.fedprune.security.sign.ReplayGuard;
import dev.fedprune.security.sign.Signatures;
import dev.fedprune.security.sign.Statements;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.Callable;
import java.util.function.LongSupplier;

/**
 * The coordinator's side of {@code fedprune.v1.AgentService}: enrolls agents, serves each call for
 * the agent its mTLS certificate names ({@link AgentIdentityInterceptor}), signs the tasks and
 * artifacts it hands out, streams artifacts with flow control, and assembles chunked uploads on disk
 * (resumable); a complete upload is digest-checked and its signature and nonce verified before the
 * round engine sees it.
 */
public final class AgentServiceImpl extends AgentServiceGrpc.AgentServiceImplBase {
    static final int CHUNK_BYTES = 1 << 20;

    private final AgentRegistry agents;
    private final RoundEngine engine;
    private final ArtifactStore artifacts;
    private final CoordinatorStore store;
    private final LongSupplier clock;
    private final int heartbeatIntervalSeconds;
    private final AgentPki pki;
    private final EnrollmentService enrollment;
    private final ReplayGuard replayGuard;
    private final AuditLog audit;

    public AgentServiceImpl(AgentRegistry agents, RoundEngine engine, ArtifactStore artifacts, CoordinatorStore store,
                            LongSupplier clock, int heartbeatIntervalSeconds, AgentPki pki, EnrollmentService enrollment,
                            ReplayGuard replayGuard, AuditLog audit) {
        this.pki = pki;
        this.enrollment = enrollment;
        this.replayGuard = replayGuard;
        this.audit = audit;
        this.agents = agents;
        this.engine = engine;
        this.artifacts = artifacts;
        this.store = store;
        this.clock = clock;
        this.heartbeatIntervalSeconds = heartbeatIntervalSeconds;
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

    // ------------------------------------------------------------------ download

    @Override
    public void downloadArtifact(DownloadArtifactRequest request, StreamObserver<ArtifactChunk> observer) {
        ServerCallStreamObserver<ArtifactChunk> call = (ServerCallStreamObserver<ArtifactChunk>) observer;
        ArtifactStore.Artifact artifact;
        FileChannel channel;
        try {
            authenticate(request.getCredentials());
            artifact = artifacts.get(request.getArtifactId());
            if (request.getOffset() < 0 || request.getOffset() > artifact.sizeBytes()) {
                throw new IllegalArgumentException("offset: " + request.getOffset() + " outside the artifact's " + artifact.sizeBytes() + " bytes");
            }
            channel = FileChannel.open(artifact.path(), StandardOpenOption.READ);
        } catch (Exception e) {
            observer.onError(GrpcErrors.toStatus("DownloadArtifact", e));
            return;
        }
        long[] position = {request.getOffset()};
        boolean[] done = {false};
        Runnable pump = () -> {
            try {
                while (!done[0] && call.isReady()) {
                    int n = (int) Math.min(CHUNK_BYTES, artifact.sizeBytes() - position[0]);
                    ByteBuffer buf = ByteBuffer.allocate(n);
                    while (buf.hasRemaining()) {
                        if (channel.read(buf, position[0] + buf.position()) < 0) {
                            throw new IOException("artifact " + artifact.id() + " shrank while being served");
                        }
                    }
                    byte[] data = buf.array();
                    boolean last = position[0] + n >= artifact.sizeBytes();
                    ArtifactChunk.Builder chunk = ArtifactChunk.newBuilder().setOffset(position[0]).setData(ByteString.copyFrom(data))
                            .setChunkSha256(Digests.sha256Hex(data)).setTotalSizeBytes(artifact.sizeBytes()).setLast(last);
                    if (last) {
                        chunk.setTotalSha256(artifact.sha256())
                                .setSignature(ByteString.copyFrom(pki.signArtifact(artifact.id(), artifact.sizeBytes(), artifact.sha256())));
                    }
                    observer.onNext(chunk.build());
                    position[0] += n;
                    if (last) {
                        done[0] = true;
                        channel.close();
                        observer.onCompleted();
                    }
                }
            } catch (IOException e) {
                done[0] = true;
                closeQuietly(channel);
                observer.onError(GrpcErrors.toStatus("DownloadArtifact", e));
            }
        };
        call.setOnCancelHandler(() -> {
            done[0] = true;
            closeQuietly(channel);
        });
        call.setOnReadyHandler(pump);
    }

    private static void closeQuietly(FileChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing a read-only channel after the call ended; nothing to recover
        }
    }

    // ------------------------------------------------------------------ upload

    @Override
    public StreamObserver<ContributionChunk> uploadContribution(StreamObserver<UploadReceipt> receipt) {
        return new UploadSession(receipt);
    }

    /** One client stream of chunks; assembles the payload in a staging file that survives disconnects. */
    private final class UploadSession implements StreamObserver<ContributionChunk> {
        private final StreamObserver<UploadReceipt> receipt;
        private AgentRecord agent;
        private AuthenticatedAgent caller;
        private TaskRecord task;
        private String nonce;
        private UploadRecord upload;
        private OutputStream out;
        private boolean failed;

        UploadSession(StreamObserver<UploadReceipt> receipt) {
            this.receipt = receipt;
        }

        @Override
        public void onNext(ContributionChunk chunk) {
            if (failed) {
                return;
            }
            try {
                if (upload == null) {
                    begin(chunk);
                }
                append(chunk);
                if (chunk.getLast()) {
                    complete(chunk);
                }
            } catch (Exception e) {
                fail(e);
            }
        }

        private void begin(ContributionChunk chunk) throws IOException {
            if (!chunk.hasHeader()) {
                throw new InvalidUploadException("header", "the first chunk of an upload must carry the header (credentials and task)");
            }
            if (chunk.getUploadId().isBlank() || chunk.getUploadId().length() > 128) {
                throw new InvalidUploadException("upload_id", "required, at most 128 characters");
            }
            var header = chunk.getHeader();
            caller = AgentIdentityInterceptor.current();
            agent = caller.agent();
            // A replayed upload is refused as such before anything else about it is looked at.
            replayGuard.checkUnused(agent.id(), header.getNonce(), "header.nonce");
            nonce = header.getNonce();
            task = engine.taskOf(agent, header.getTaskId());
            if (!header.getJobId().isEmpty() && !header.getJobId().equals(task.jobId())) {
                throw new InvalidUploadException("header.job_id", "task " + task.id() + " belongs to job " + task.jobId() + ", the upload says " + header.getJobId());
            }
            if (header.getRoundIndex() != task.roundIndex()) {
                throw new InvalidUploadException("header.round_index", "task " + task.id() + " belongs to round " + task.roundIndex()
                        + ", the upload says round " + header.getRoundIndex());
            }
            engine.checkAccepting(agent, header.getTaskId());
            long limit = engine.maxContributionBytes(task);
            if (header.getTotalSizeBytes() <= 0 || header.getTotalSizeBytes() > limit) {
                throw new InvalidUploadException("header.total_size_bytes", "must be in [1, " + limit + "] for this task, got " + header.getTotalSizeBytes());
            }
            UploadRecord existing = store.upload(chunk.getUploadId()).orElse(null);
            Path staging = stagingFile(agent.id(), chunk.getUploadId());
            if (existing == null) {
                upload = new UploadRecord(chunk.getUploadId(), header.getTaskId(), agent.id(), 0, header.getTotalSizeBytes(), "RECEIVING");
                Files.deleteIfExists(staging);
                store.saveUpload(upload, clock.getAsLong());
            } else {
                if (!existing.agentId().equals(agent.id()) || !existing.taskId().equals(header.getTaskId())) {
                    throw new PermissionDeniedException("upload_id: upload " + existing.id() + " belongs to another agent or task");
                }
                if (existing.state().equals("COMPLETE")) {
                    throw new InvalidUploadException("upload_id", "upload " + existing.id() + " is already complete");
                }
                if (existing.totalBytes() != header.getTotalSizeBytes()) {
                    throw new InvalidUploadException("header.total_size_bytes", "resumed upload declared " + existing.totalBytes() + " bytes before, now " + header.getTotalSizeBytes());
                }
                upload = existing;
                // Keep exactly the committed prefix: bytes past it were never acknowledged.
                try (FileChannel ch = FileChannel.open(staging, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
                    if (ch.size() < existing.committedBytes()) {
                        throw new IOException("staging file of upload " + existing.id() + " is shorter than its committed " + existing.committedBytes() + " bytes");
                    }
                    ch.truncate(existing.committedBytes());
                }
            }
            out = Files.newOutputStream(staging, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        }

        private void append(ContributionChunk chunk) throws IOException {
            if (!chunk.getUploadId().equals(upload.id())) {
                throw new InvalidUploadException("upload_id", "chunk for upload '" + chunk.getUploadId() + "' in the stream of '" + upload.id() + "'");
            }
            if (chunk.getOffset() != upload.committedBytes()) {
                throw new InvalidUploadException("offset", "chunk out of order: offset " + chunk.getOffset() + ", expected " + upload.committedBytes());
            }
            byte[] data = chunk.getData().toByteArray();
            String sha = Digests.sha256Hex(data);
            if (!sha.equals(chunk.getChunkSha256())) {
                throw new InvalidUploadException("chunk_sha256", "chunk at offset " + chunk.getOffset() + " has SHA-256 " + sha + ", the chunk says " + chunk.getChunkSha256());
            }
            long committed = upload.committedBytes() + data.length;
            if (committed > upload.totalBytes()) {
                throw new InvalidUploadException("data", "upload grows past its declared " + upload.totalBytes() + " bytes");
            }
            out.write(data);
            out.flush();
            upload = new UploadRecord(upload.id(), upload.taskId(), upload.agentId(), committed, upload.totalBytes(), "RECEIVING");
            store.saveUpload(upload, clock.getAsLong());
        }

        private void complete(ContributionChunk chunk) throws IOException {
            out.close();
            out = null;
            if (upload.committedBytes() != upload.totalBytes()) {
                throw new InvalidUploadException("last", "last chunk at " + upload.committedBytes() + " bytes of a declared " + upload.totalBytes());
            }
            Path staging = stagingFile(upload.agentId(), upload.id());
            String sha = Digests.sha256Hex(staging);
            if (!sha.equals(chunk.getTotalSha256())) {
                // The bytes on disk are not what the agent meant to send: drop them so a retry starts clean.
                Files.deleteIfExists(staging);
                store.saveUpload(new UploadRecord(upload.id(), upload.taskId(), upload.agentId(), 0, upload.totalBytes(), "RECEIVING"), clock.getAsLong());
                throw new InvalidUploadException("total_sha256", "payload has SHA-256 " + sha + ", the last chunk says " + chunk.getTotalSha256());
            }
            // The caller again, now: an agent revoked (or a certificate expired) while its stream was open folds nothing.
            pki.identify(caller.certificate());
            // Verified before the engine sees the payload: a refusal here folds nothing and leaves the task open.
            byte[] statement = Statements.contribution(task.jobId(), task.roundIndex(), task.id(), agent.id(), sha, nonce);
            Signatures.verify(caller.certificate().getPublicKey(), statement, chunk.getSignature().toByteArray(), "contribution for task " + task.id());
            replayGuard.checkUnused(agent.id(), nonce, "header.nonce");
            UploadRecord done = new UploadRecord(upload.id(), upload.taskId(), upload.agentId(), upload.committedBytes(), upload.totalBytes(), "COMPLETE");
            // The nonce spent, the task folded and the upload complete are one commit; the receipt follows it.
            engine.acceptContribution(agent, upload.taskId(), staging, sha, () -> {
                replayGuard.consume(agent.id(), nonce, task.id(), clock.getAsLong(), "header.nonce");
                store.saveUpload(done, clock.getAsLong());
            });
            Files.deleteIfExists(staging);
            receipt.onNext(UploadReceipt.newBuilder().setUploadId(upload.id()).setCommittedBytes(upload.committedBytes())
                    .setPayloadSha256(sha).setFolded(true).build());
            receipt.onCompleted();
            upload = null;
            failed = true; // nothing more is accepted on this stream
        }

        private void fail(Exception e) {
            failed = true;
            closeOut();
            if (agent != null) {
                audit.refused(AuditLog.CONTRIBUTION_REFUSED, agent == null ? null : agent.id(), task == null ? null : task.id(), e.getMessage());
            }
            receipt.onError(GrpcErrors.toStatus("UploadContribution", e));
        }

        private void closeOut() {
            if (out != null) {
                try {
                    out.close();
                } catch (IOException ignored) {
                    // the staging file keeps its committed prefix; the upload record says how long it is
                }
                out = null;
            }
        }

        @Override
        public void onError(Throwable t) {
            // The agent went away; the committed prefix stays for a resume.
            closeOut();
        }

        @Override
        public void onCompleted() {
            closeOut();
            if (!failed) {
                failed = true;
                receipt.onError(GrpcErrors.toStatus("UploadContribution", upload == null
                        ? new InvalidUploadException("chunks", "stream ended without any chunk")
                        : new InvalidUploadException("last", "stream ended at " + upload.committedBytes() + " bytes without a last chunk; resume from there")));
            }
        }
    }

    /**
     * The partial file of one agent's upload: named by the agent and a digest of the upload id, so that
     * two ids that differ only in characters a file name cannot hold ({@code a/b}, {@code a_b}) never
     * share a file, and no agent's upload can touch another's.
     */
    private Path stagingFile(String agentId, String uploadId) {
        String agent = agentId.replaceAll("[^A-Za-z0-9._-]", "_");
        String key = Digests.sha256Hex(uploadId.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        return artifacts.stagingDir().resolve(agent + "-" + key + ".part");
    }
}

package dev.fedprune.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.OutputStreamAppender;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import dev.fedprune.agent.connection.CoordinatorClient;
import dev.fedprune.agent.connection.TlsChannels;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.model.SyntheticLlama;
import dev.fedprune.coordinator.job.JobSpecParser;
import dev.fedprune.proto.v1.AgentServiceGrpc;
import dev.fedprune.proto.v1.AgentState;
import dev.fedprune.proto.v1.ContributionChunk;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.security.tls.PinnedCaTrustManager;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.SimpleFormatter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Bytes that are not the method's request message, sent on every RPC of the agent service with and
 * without a client certificate: each call is refused with INVALID_ARGUMENT (or UNAUTHENTICATED where
 * the certificate check comes first), the log grows by a bounded amount rather than a stack trace per
 * call, and real agents are served afterwards.
 */
class MalformedRequestTest {
    static final int REQUESTS = 10_000;
    /** Well under one line per refusal: a flood may not grow the log in proportion to its size. */
    static final long MAX_LOG_BYTES_PER_REQUEST = 50;

    static final List<MethodDescriptor<?, ?>> METHODS = List.of(AgentServiceGrpc.getEnrollMethod(), AgentServiceGrpc.getRenewMethod(),
            AgentServiceGrpc.getHeartbeatMethod(), AgentServiceGrpc.getPullTaskMethod(), AgentServiceGrpc.getDownloadArtifactMethod(),
            AgentServiceGrpc.getUploadContributionMethod(), AgentServiceGrpc.getGetUploadStatusMethod(), AgentServiceGrpc.getReportMetricsMethod());

    /** Not a message of any request type (checked in the test): a zero tag, a cut varint, wire type 7, a stray end-group, short fields. */
    static final List<byte[]> GARBAGE = List.of(
            new byte[] {0, 0, 0},
            new byte[] {(byte) 0xFF, (byte) 0xFF, (byte) 0xFF},
            new byte[] {0x0F, 0x01, 0x02},
            new byte[] {0x0C},
            new byte[] {0x0A, 0x7F, 0x01},
            lengthDelimitedCutShort(4000));

    static byte[] lengthDelimitedCutShort(int bytes) {
        byte[] b = new byte[bytes];
        Arrays.fill(b, (byte) 'x');
        b[0] = 0x0A; // field 1, length-delimited
        b[1] = (byte) 0xFF; // length 16383 (varint FF 7F), far past the end
        b[2] = 0x7F;
        return b;
    }

    static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
            try {
                return stream.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    };

    @TempDir
    Path dir;
    Federation fed;
    CoordinatorClient alice;
    CoordinatorClient bob;
    ManagedChannel aliceChannel;
    ManagedChannel anonymous;
    String jobId;

    @BeforeEach
    void start() throws Exception {
        Path model = dir.resolve("model");
        SyntheticLlama.write(model, new SyntheticLlama.Shape(1, 16, 32, 2, 1, 20, 16, true, DType.F32), 3);
        fed = new Federation(dir.resolve("coord"));
        alice = fed.enrolledClient("alice");
        bob = fed.enrolledClient("bob");
        jobId = fed.node.engine().submit(JobSpecParser.parse(Federation.twoAgentMaskJob(model)));
        aliceChannel = AgentServiceBadInputTest.mutualTls(fed.target(), alice.identity());
        anonymous = TlsChannels.serverTls(fed.target(), PinnedCaTrustManager.forCertificate(alice.identity().caCertificate(), Clock.systemUTC()));
    }

    @AfterEach
    void stop() throws Exception {
        aliceChannel.shutdownNow();
        anonymous.shutdownNow();
        alice.close();
        bob.close();
        fed.close();
    }

    /** Sends the messages as they are on one call of the method; completes with the status the coordinator closed the call with. */
    static CompletableFuture<Status> rawCall(Channel channel, MethodDescriptor<?, ?> method, List<byte[]> messages) {
        ClientCall<byte[], byte[]> call = channel.newCall(method.toBuilder(BYTES, BYTES).build(), CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS));
        CompletableFuture<Status> closed = new CompletableFuture<>();
        call.start(new ClientCall.Listener<>() {
            @Override
            public void onClose(Status status, Metadata trailers) {
                closed.complete(status);
            }
        }, new Metadata());
        call.request(Integer.MAX_VALUE);
        messages.forEach(call::sendMessage);
        call.halfClose();
        return closed;
    }

    static Message requestPrototype(MethodDescriptor<?, ?> method) {
        return (Message) ((MethodDescriptor.PrototypeMarshaller<?>) method.getRequestMarshaller()).getMessagePrototype();
    }

    static String requestType(MethodDescriptor<?, ?> method) {
        return requestPrototype(method).getDescriptorForType().getFullName();
    }

    @Test
    void tenThousandUnparseableRequestsAreRefusedAsInvalidArgumentWithBoundedLogAndTheServiceStaysUp() throws Exception {
        for (MethodDescriptor<?, ?> method : METHODS) {
            for (byte[] garbage : GARBAGE) {
                assertThrows(InvalidProtocolBufferException.class, () -> requestPrototype(method).getParserForType().parseFrom(garbage),
                        () -> "test oracle: " + garbage.length + " bytes of garbage parse as " + method.getFullMethodName());
            }
        }
        Map<Status.Code, Integer> codes = new EnumMap<>(Status.Code.class);
        List<String> wrong = new ArrayList<>();
        long started = System.nanoTime();
        long logBytes;
        long stackTraces;
        try (LogVolume log = LogVolume.start()) {
            Semaphore inFlight = new Semaphore(64);
            List<CompletableFuture<Void>> calls = new ArrayList<>(REQUESTS);
            for (int i = 0; i < REQUESTS; i++) {
                MethodDescriptor<?, ?> method = METHODS.get(i % METHODS.size());
                boolean withCertificate = (i / METHODS.size()) % 2 == 0;
                byte[] garbage = GARBAGE.get((i / (2 * METHODS.size())) % GARBAGE.size());
                List<byte[]> messages = method.getType().clientSendsOneMessage() ? List.of(garbage)
                        : Collections.nCopies(1 + i % 3, garbage); // a client stream of one to three unparseable chunks
                // Without a certificate only Enroll reaches the request; every other method is refused before it.
                Status.Code expected = withCertificate || method == AgentServiceGrpc.getEnrollMethod() ? Status.Code.INVALID_ARGUMENT
                        : Status.Code.UNAUTHENTICATED;
                inFlight.acquire();
                calls.add(rawCall(withCertificate ? aliceChannel : anonymous, method, messages).thenAccept(status -> {
                    inFlight.release();
                    synchronized (codes) {
                        codes.merge(status.getCode(), 1, Integer::sum);
                        if (status.getCode() != expected || status.getDescription() == null || status.getDescription().length() > 600
                                || (expected == Status.Code.INVALID_ARGUMENT && !status.getDescription().startsWith("request is not a valid "
                                        + requestType(method)))) {
                            if (wrong.size() < 5) {
                                wrong.add(method.getBareMethodName() + (withCertificate ? "" : " without certificate") + ": expected " + expected
                                        + ", got " + status);
                            }
                        }
                    }
                }));
            }
            CompletableFuture.allOf(calls.toArray(CompletableFuture[]::new)).get(120, TimeUnit.SECONDS);
            logBytes = log.bytes();
            stackTraces = log.stackTraces();
        }
        long millis = (System.nanoTime() - started) / 1_000_000;
        String summary = REQUESTS + " unparseable requests in " + millis + " ms: " + codes + "; log grew by " + logBytes + " bytes ("
                + logBytes / REQUESTS + " per request), " + stackTraces + " stack traces";
        System.out.println(summary);
        assertTrue(wrong.isEmpty(), () -> summary + "; first wrong answers: " + wrong);
        assertTrue(logBytes <= MAX_LOG_BYTES_PER_REQUEST * REQUESTS, summary);
        assertEquals(0, stackTraces, summary);

        // The service is healthy: a new agent enrolls and heartbeats, alice pulls her task and downloads its model, an
        // upload broken by an unparseable chunk keeps its committed prefix, and the real client resumes it and it folds.
        CoordinatorClient carol = fed.enrolledClient("carol");
        assertEquals(0, carol.heartbeat(AgentState.AGENT_STATE_IDLE, null).getCancelledTaskIdsCount());
        Task task = AgentServiceBadInputTest.awaitTask(alice);
        for (var file : task.getModel().getFilesList()) {
            Path copy = dir.resolve("downloaded").resolve(file.getPath());
            alice.download(file.getArtifactId(), file.getSha256(), copy);
            assertEquals(file.getSizeBytes(), Files.size(copy), file.getPath());
        }
        byte[] payload = AgentServiceBadInputTest.payload(task, 0, null);
        List<ContributionChunk> chunks = AgentServiceBadInputTest.chunks(alice.identity(), task, "u-broken", payload, 32);
        Status broken = rawCall(aliceChannel, AgentServiceGrpc.getUploadContributionMethod(),
                List.of(chunks.get(0).toByteArray(), GARBAGE.get(0), chunks.get(1).toByteArray())).get(30, TimeUnit.SECONDS);
        assertEquals(Status.Code.INVALID_ARGUMENT, broken.getCode(), broken.toString());
        assertEquals("request is not a valid fedprune.v1.ContributionChunk: Protocol message contained an invalid tag (zero).",
                broken.getDescription());
        assertEquals(32, fed.node.store().upload("u-broken").orElseThrow().committedBytes(), "the chunk before the unparseable one was kept");
        assertTrue(alice.upload(task, "u-broken", payload).getFolded());
        assertEquals("FOLDED", fed.node.store().task(task.getTaskId()).orElseThrow().state());
    }

    @Test
    void anUnparseableEnrollWithoutCertificateIsInvalidArgumentNamingTheMessageType() throws Exception {
        Status status = rawCall(anonymous, AgentServiceGrpc.getEnrollMethod(), List.of(new byte[] {0, 0, 0})).get(30, TimeUnit.SECONDS);
        assertEquals(Status.Code.INVALID_ARGUMENT, status.getCode(), status.toString());
        assertEquals("request is not a valid fedprune.v1.EnrollRequest: Protocol message contained an invalid tag (zero).", status.getDescription());
        // a well-formed request on the same connection reaches the service, which answers about its fields
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> AgentServiceGrpc.newBlockingStub(anonymous)
                .enroll(dev.fedprune.proto.v1.EnrollRequest.newBuilder().setEnrollmentToken("not-a-token").build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), e.getStatus().toString());
        assertTrue(e.getStatus().getDescription().startsWith("csr_pem: "), e.getStatus().toString());
    }

    @Test
    void unparseableChunksAfterTheServiceRefusedTheStreamAreDroppedQuietly() throws Exception {
        // The service refuses the first chunk (no header) and closes the call; the garbage behind it is never parsed.
        byte[] headerless = ContributionChunk.newBuilder().setUploadId("u-headerless").setOffset(0).build().toByteArray();
        int calls = 200;
        List<Status> statuses = new ArrayList<>();
        long logBytes;
        long stackTraces;
        try (LogVolume log = LogVolume.start()) {
            List<CompletableFuture<Status>> pending = new ArrayList<>();
            for (int i = 0; i < calls; i++) {
                pending.add(rawCall(aliceChannel, AgentServiceGrpc.getUploadContributionMethod(), List.of(headerless, GARBAGE.get(i % GARBAGE.size()))));
            }
            for (CompletableFuture<Status> p : pending) {
                statuses.add(p.get(30, TimeUnit.SECONDS));
            }
            Thread.sleep(200); // the garbage arrives after the answer; give the coordinator time to drop (or log) it
            logBytes = log.bytes();
            stackTraces = log.stackTraces();
        }
        for (Status status : statuses) {
            assertEquals(Status.Code.INVALID_ARGUMENT, status.getCode(), status.toString());
            assertTrue(status.getDescription().startsWith("header: the first chunk of an upload must carry the header"), status.toString());
        }
        assertEquals(0, stackTraces, "stack traces logged for " + calls + " refused streams");
        assertTrue(logBytes <= MAX_LOG_BYTES_PER_REQUEST * calls, "log grew by " + logBytes + " bytes for " + calls + " refused streams");
    }

    /**
     * Counts the bytes the logging backends write while open: logback (SLF4J, the coordinator's own
     * lines, in the test configuration's pattern) and java.util.logging (grpc-java's own lines, as its
     * console handler formats them).
     */
    static final class LogVolume implements AutoCloseable {
        private final AtomicLong bytes = new AtomicLong();
        private final AtomicLong stackTraces = new AtomicLong();
        private final OutputStreamAppender<ILoggingEvent> appender = new OutputStreamAppender<>() {
            @Override
            protected void subAppend(ILoggingEvent event) {
                if (event.getThrowableProxy() != null) {
                    stackTraces.incrementAndGet();
                }
                super.subAppend(event);
            }
        };
        private final Handler julHandler = new Handler() {
            private final SimpleFormatter format = new SimpleFormatter();

            @Override
            public void publish(LogRecord record) {
                if (isLoggable(record)) {
                    bytes.addAndGet(format.format(record).getBytes(StandardCharsets.UTF_8).length);
                    if (record.getThrown() != null) {
                        stackTraces.incrementAndGet();
                    }
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };

        static LogVolume start() {
            LogVolume v = new LogVolume();
            LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
            PatternLayoutEncoder encoder = new PatternLayoutEncoder();
            encoder.setContext(context);
            encoder.setPattern("%d{HH:mm:ss.SSS} %-5level %logger{0} - %msg%n");
            encoder.start();
            v.appender.setContext(context);
            v.appender.setEncoder(encoder);
            v.appender.setOutputStream(new OutputStream() {
                @Override
                public void write(int b) {
                    v.bytes.incrementAndGet();
                }

                @Override
                public void write(byte[] b, int off, int len) {
                    v.bytes.addAndGet(len);
                }
            });
            v.appender.start();
            context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).addAppender(v.appender);
            java.util.logging.Logger.getLogger("").addHandler(v.julHandler);
            return v;
        }

        long bytes() {
            return bytes.get();
        }

        /** Log entries that carry an exception, whose stack trace goes to the log with them. */
        long stackTraces() {
            return stackTraces.get();
        }

        @Override
        public void close() {
            java.util.logging.Logger.getLogger("").removeHandler(julHandler);
            ((LoggerContext) LoggerFactory.getILoggerFactory()).getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).detachAppender(appender);
            appender.stop();
        }
    }
}

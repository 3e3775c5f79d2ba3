package dev.fedprune.coordinator.grpc;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import dev.fedprune.coordinator.error.MalformedRequestException;
import io.grpc.Attributes;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.SecurityLevel;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * Parses each request inside the call instead of in grpc-java's transport code, so that bytes which
 * are not the method's request message are refused with INVALID_ARGUMENT through {@link GrpcErrors}
 * (a short description, a rate-limited log line) rather than closed as UNKNOWN with a stack trace
 * logged per call. Unary and streaming methods alike; responses are untouched.
 */
public final class RequestParsing {
    /** Hands the transport's message stream through unread; the call parses it while the stream is open. */
    private static final MethodDescriptor.Marshaller<InputStream> UNPARSED = new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(InputStream value) {
            return value;
        }

        @Override
        public InputStream parse(InputStream stream) {
            return stream;
        }
    };

    private RequestParsing() {
    }

    /** The service with every method's requests parsed by {@link ParsingCall}; interceptors go around the result. */
    public static ServerServiceDefinition refusingUnparseable(ServerServiceDefinition service) {
        ServiceDescriptor original = service.getServiceDescriptor();
        ServiceDescriptor.Builder descriptor = ServiceDescriptor.newBuilder(original.getName()).setSchemaDescriptor(original.getSchemaDescriptor());
        List<ServerMethodDefinition<InputStream, ?>> methods = new ArrayList<>();
        for (ServerMethodDefinition<?, ?> method : service.getMethods()) {
            ServerMethodDefinition<InputStream, ?> parsed = parsedInCall(method);
            descriptor.addMethod(parsed.getMethodDescriptor());
            methods.add(parsed);
        }
        ServerServiceDefinition.Builder out = ServerServiceDefinition.builder(descriptor.build());
        methods.forEach(out::addMethod);
        return out.build();
    }

    private static <Q, R> ServerMethodDefinition<InputStream, R> parsedInCall(ServerMethodDefinition<Q, R> definition) {
        MethodDescriptor<Q, R> method = definition.getMethodDescriptor();
        ServerCallHandler<Q, R> next = definition.getServerCallHandler();
        String requestType = requestType(method);
        return ServerMethodDefinition.create(method.toBuilder(UNPARSED, method.getResponseMarshaller()).build(),
                (call, headers) -> new ParsingCall<>(call, method, requestType).start(next, headers));
    }

    /** The protobuf name of the request message ({@code fedprune.v1.EnrollRequest}). */
    private static String requestType(MethodDescriptor<?, ?> method) {
        if (method.getRequestMarshaller() instanceof MethodDescriptor.PrototypeMarshaller<?> p && p.getMessagePrototype() instanceof Message m) {
            return m.getDescriptorForType().getFullName();
        }
        return method.getFullMethodName() + " request";
    }

    /**
     * The call as the service sees it: typed requests, everything else forwarded to the transport's
     * call. Once a request is refused, the service is told the call was cancelled (a client stream
     * releases what it holds) and nothing it does afterwards reaches the transport. Messages that
     * arrive after the call was closed, by the service or by a refusal, are dropped unread.
     */
    private static final class ParsingCall<Q, R> extends ServerCall<Q, R> {
        private final ServerCall<InputStream, R> call;
        private final MethodDescriptor<Q, R> method;
        private final String requestType;
        private volatile boolean closed;
        private volatile boolean refused;

        ParsingCall(ServerCall<InputStream, R> call, MethodDescriptor<Q, R> method, String requestType) {
            this.call = call;
            this.method = method;
            this.requestType = requestType;
        }

        ServerCall.Listener<InputStream> start(ServerCallHandler<Q, R> next, Metadata headers) {
            ServerCall.Listener<Q> service = next.startCall(this, headers);
            return new ServerCall.Listener<>() {
                @Override
                public void onMessage(InputStream message) {
                    if (closed) {
                        return; // the rest of a client stream that was already answered
                    }
                    Q request;
                    try {
                        request = method.parseRequest(message);
                    } catch (StatusRuntimeException e) {
                        // grpc-protobuf reports bytes that are not the message as INTERNAL with protobuf's exception as the cause.
                        if (!(e.getCause() instanceof InvalidProtocolBufferException unparseable)) {
                            throw e;
                        }
                        refuse(service, unparseable);
                        return;
                    }
                    service.onMessage(request);
                }

                @Override
                public void onHalfClose() {
                    if (!refused) {
                        service.onHalfClose();
                    }
                }

                @Override
                public void onCancel() {
                    if (!refused) {
                        service.onCancel();
                    }
                }

                @Override
                public void onComplete() {
                    if (!refused) {
                        service.onComplete();
                    }
                }

                @Override
                public void onReady() {
                    if (!refused) {
                        service.onReady();
                    }
                }
            };
        }

        private void refuse(ServerCall.Listener<Q> service, InvalidProtocolBufferException unparseable) {
            refused = true;
            closed = true;
            Status status = GrpcErrors.toStatus(method.getBareMethodName(), new MalformedRequestException(requestType, unparseable)).getStatus();
            call.close(status, new Metadata());
            service.onCancel();
        }

        @Override
        public void close(Status status, Metadata trailers) {
            if (!refused) {
                closed = true;
                call.close(status, trailers);
            }
        }

        @Override
        public MethodDescriptor<Q, R> getMethodDescriptor() {
            return method;
        }

        @Override
        public void request(int numMessages) {
            call.request(numMessages);
        }

        @Override
        public void sendHeaders(Metadata headers) {
            call.sendHeaders(headers);
        }

        @Override
        public void sendMessage(R message) {
            call.sendMessage(message);
        }

        @Override
        public boolean isReady() {
            return call.isReady();
        }

        @Override
        public boolean isCancelled() {
            return call.isCancelled();
        }

        @Override
        public void setMessageCompression(boolean enabled) {
            call.setMessageCompression(enabled);
        }

        @Override
        public void setCompression(String compressor) {
            call.setCompression(compressor);
        }

        @Override
        public void setOnReadyThreshold(int numBytes) {
            call.setOnReadyThreshold(numBytes);
        }

        @Override
        public SecurityLevel getSecurityLevel() {
            return call.getSecurityLevel();
        }

        @Override
        public Attributes getAttributes() {
            return call.getAttributes();
        }

        @Override
        public String getAuthority() {
            return call.getAuthority();
        }
    }
}

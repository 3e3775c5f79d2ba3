package dev.fedprune.coordinator.grpc;

import dev.fedprune.coordinator.agent.AgentRegistry;
import dev.fedprune.coordinator.error.UnauthenticatedException;
import dev.fedprune.coordinator.security.AgentPki;
import dev.fedprune.coordinator.security.AuditLog;
import dev.fedprune.coordinator.store.Records.AgentRecord;
import dev.fedprune.proto.v1.AgentServiceGrpc;
import dev.fedprune.security.CertificateRejectedException;
import dev.fedprune.security.pki.CertificateVerifier;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.io.ByteArrayInputStream;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * Establishes who is calling: the agent named by the verified mTLS client certificate, never a field
 * of the request. Every call but Enroll needs one; a missing, foreign, expired or revoked certificate
 * is refused with UNAUTHENTICATED and an audit entry before any service code runs.
 */
public final class AgentIdentityInterceptor implements ServerInterceptor {
    /** The authenticated caller of the current call. */
    public record AuthenticatedAgent(AgentRecord agent, X509Certificate certificate) {
    }

    static final Context.Key<AuthenticatedAgent> AGENT = Context.key("fedprune-authenticated-agent");
    /** The remote address of the current call, for the audit log. */
    static final Context.Key<String> PEER = Context.key("fedprune-peer");

    /** A refused caller that keeps retrying leaves one audit entry per minute and method, not one per call. */
    private static final long AUDIT_REPEAT_MILLIS = 60_000;

    private final AgentPki pki;
    private final AgentRegistry agents;
    private final AuditLog audit;
    private final java.util.Map<String, long[]> lastAudited = new java.util.concurrent.ConcurrentHashMap<>();

    public AgentIdentityInterceptor(AgentPki pki, AgentRegistry agents, AuditLog audit) {
        this.pki = pki;
        this.agents = agents;
        this.audit = audit;
    }

    /** The caller of the current call; only inside a call that passed this interceptor. */
    static AuthenticatedAgent current() {
        AuthenticatedAgent a = AGENT.get();
        if (a == null) {
            throw new UnauthenticatedException("no authenticated agent on this call");
        }
        return a;
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        String method = call.getMethodDescriptor().getFullMethodName();
        String peer = String.valueOf(call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR));
        if (method.equals(AgentServiceGrpc.getEnrollMethod().getFullMethodName())) {
            return Contexts.interceptCall(Context.current().withValue(PEER, peer), call, headers, next);
        }
        X509Certificate presented = null;
        try {
            presented = peerCertificate(call);
            String agentId = pki.identify(presented);
            AuthenticatedAgent who = new AuthenticatedAgent(agents.get(agentId), presented);
            return Contexts.interceptCall(Context.current().withValue(AGENT, who).withValue(PEER, peer), call, headers, next);
        } catch (CertificateRejectedException | UnauthenticatedException e) {
            // The messages quote names from the presented certificate, which anyone can make as long as they like.
            String subject = presented == null ? null : GrpcErrors.bounded(CertificateVerifier.commonName(presented));
            String message = GrpcErrors.bounded(e.getMessage());
            auditRefusal(peer, subject, shortName(method) + ": " + message);
            call.close(Status.UNAUTHENTICATED.withDescription(message), new Metadata());
            return new ServerCall.Listener<>() {
            };
        }
    }

    private void auditRefusal(String peer, String subject, String detail) {
        String key = (subject == null ? peer.replaceAll(":\\d+$", "") : subject) + "\n" + detail;
        long now = System.currentTimeMillis();
        long[] last = lastAudited.computeIfAbsent(key, k -> new long[] {0, 0});
        synchronized (last) {
            if (now - last[0] < AUDIT_REPEAT_MILLIS) {
                last[1]++;
                return;
            }
            String repeats = last[1] == 0 ? "" : " (and " + last[1] + " identical refusals since the previous entry)";
            last[0] = now;
            last[1] = 0;
            audit.refused(AuditLog.CONNECTION_REFUSED, peer, subject, detail + repeats);
        }
        if (lastAudited.size() > 10_000) {
            lastAudited.clear(); // bounded memory under a flood of distinct callers
        }
    }

    private static X509Certificate peerCertificate(ServerCall<?, ?> call) {
        SSLSession session = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
        if (session == null) {
            throw new UnauthenticatedException("this coordinator accepts only TLS connections with an agent certificate");
        }
        Certificate[] chain;
        try {
            chain = session.getPeerCertificates();
        } catch (SSLPeerUnverifiedException e) {
            chain = null;
        }
        if (chain == null || chain.length == 0) {
            throw new UnauthenticatedException("no client certificate: enroll first (fedprune-agent enroll --coordinator HOST:PORT --token-file FILE"
                    + " --ca-fingerprint FP) and connect with the certificate it stores");
        }
        try {
            // Re-parse: TLS providers hand out their own lazy certificate classes.
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(new ByteArrayInputStream(chain[0].getEncoded()));
        } catch (CertificateException | RuntimeException e) {
            throw new CertificateRejectedException("the client certificate cannot be parsed: " + e.getMessage());
        }
    }

    private static String shortName(String fullMethod) {
        return fullMethod.substring(fullMethod.lastIndexOf('/') + 1);
    }
}

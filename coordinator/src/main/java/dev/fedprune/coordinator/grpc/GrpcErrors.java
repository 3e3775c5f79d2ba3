package dev.fedprune.coordinator.grpc;

import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.format.FormatException;
import dev.fedprune.coordinator.error.InvalidUploadException;
import dev.fedprune.coordinator.error.MalformedRequestException;
import dev.fedprune.coordinator.error.NotFoundException;
import dev.fedprune.coordinator.error.PermissionDeniedException;
import dev.fedprune.coordinator.error.RoundClosedException;
import dev.fedprune.coordinator.error.UnauthenticatedException;
import dev.fedprune.coordinator.job.InvalidJobSpecException;
import dev.fedprune.coordinator.security.TokenRejectedException;
import dev.fedprune.security.CertificateRejectedException;
import dev.fedprune.security.InvalidSecurityInputException;
import dev.fedprune.security.ReplayedNonceException;
import dev.fedprune.security.SignatureRejectedException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place where coordinator exceptions become gRPC status codes, and where refused calls are
 * logged: one line each with its text bounded, at most {@value #LOGGED_REFUSALS_PER_MINUTE} a minute
 * per call and status code.
 */
public final class GrpcErrors {
    private static final Logger log = LoggerFactory.getLogger(GrpcErrors.class);

    /** A flood of refused calls (garbage, a misbehaving agent) is counted, not logged line by line. */
    static final int LOGGED_REFUSALS_PER_MINUTE = 10;
    private static final long REFUSAL_WINDOW_NANOS = TimeUnit.MINUTES.toNanos(1);
    /** Keyed by call and status code: constants of this code base, so the map stays small. */
    private static final ConcurrentMap<String, RefusalWindow> refusals = new ConcurrentHashMap<>();

    private GrpcErrors() {
    }

    public static StatusRuntimeException toStatus(String call, Throwable e) {
        if (e instanceof StatusRuntimeException s) {
            return s;
        }
        Status status;
        if (e instanceof InvalidContributionException || e instanceof InvalidUploadException || e instanceof InvalidJobSpecException
                || e instanceof FormatException || e instanceof IllegalArgumentException || e instanceof InvalidSecurityInputException
                || e instanceof MalformedRequestException) {
            status = Status.INVALID_ARGUMENT;
        } else if (e instanceof NotFoundException) {
            status = Status.NOT_FOUND;
        } else if (e instanceof RoundClosedException) {
            status = Status.FAILED_PRECONDITION;
        } else if (e instanceof UnauthenticatedException || e instanceof CertificateRejectedException || e instanceof TokenRejectedException) {
            status = Status.UNAUTHENTICATED;
        } else if (e instanceof PermissionDeniedException || e instanceof SignatureRejectedException || e instanceof ReplayedNonceException) {
            status = Status.PERMISSION_DENIED;
        } else {
            // Internal messages (database statements, paths, class names) stay in the log: the caller gets a
            // reference to quote to the operator.
            String reference = Long.toHexString(java.util.concurrent.ThreadLocalRandom.current().nextLong() >>> 16);
            log.error("{} failed (reference {})", call, reference, e);
            return Status.INTERNAL.withDescription(call + ": internal error, reference " + reference).asRuntimeException();
        }
        String message = bounded(e.getMessage());
        logRefusal(call, status.getCode(), message);
        return status.withDescription(message).asRuntimeException();
    }

    /** Refusals of one call with one code within a minute; what the window did not log is counted into the next line. */
    private static final class RefusalWindow {
        long startNanos;
        int logged;
        long unlogged;

        RefusalWindow(long startNanos) {
            this.startNanos = startNanos;
        }
    }

    private static void logRefusal(String call, Status.Code code, String message) {
        String peer = AgentIdentityInterceptor.PEER.get();
        RefusalWindow window = refusals.computeIfAbsent(call + " " + code, k -> new RefusalWindow(System.nanoTime()));
        long unloggedBefore = 0;
        boolean last;
        synchronized (window) {
            long now = System.nanoTime();
            if (now - window.startNanos >= REFUSAL_WINDOW_NANOS) {
                unloggedBefore = window.unlogged;
                window.startNanos = now;
                window.logged = 0;
                window.unlogged = 0;
            }
            if (window.logged >= LOGGED_REFUSALS_PER_MINUTE) {
                window.unlogged++;
                return;
            }
            window.logged++;
            last = window.logged == LOGGED_REFUSALS_PER_MINUTE;
        }
        log.warn("{} refused ({}){}: {}{}{}", call, code, peer == null ? "" : " from " + peer, message,
                unloggedBefore == 0 ? "" : " [" + unloggedBefore + " earlier " + call + " " + code + " refusals were counted, not logged]",
                last ? " [further " + call + " " + code + " refusals within the minute are counted, not logged]" : "");
    }

    /**
     * A message that may echo what a client sent, fit for a status and a log line: control characters
     * escaped ({@code \\u001B}), at most {@value #MAX_ECHOED_CHARS} characters of it.
     */
    public static String bounded(String message) {
        if (message == null) {
            return null;
        }
        String cut = message.length() <= MAX_ECHOED_CHARS ? message : message.substring(0, MAX_ECHOED_CHARS);
        StringBuilder out = new StringBuilder(cut.length() + 16);
        for (int i = 0; i < cut.length(); i++) {
            char c = cut.charAt(i);
            if (unprintable(c)) {
                out.append(String.format("\\u%04X", (int) c));
            } else {
                out.append(c);
            }
        }
        if (cut.length() < message.length()) {
            out.append("… (").append(message.length()).append(" characters)");
        }
        return out.toString();
    }

    static final int MAX_ECHOED_CHARS = 500;

    /** Control and format characters: what agent-sent text may not hold and echoed text escapes. */
    static boolean unprintable(char c) {
        return Character.isISOControl(c) || Character.getType(c) == Character.FORMAT;
    }
}

package dev.fedprune.coordinator.grpc;

import dev.fedprune.aggregation.InvalidContributionException;
import dev.fedprune.aggregation.format.FormatException;
import dev.fedprune.coordinator.error.InvalidUploadException;
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
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The one place where coordinator exceptions become gRPC status codes. */
public final class GrpcErrors {
    private static final Logger log = LoggerFactory.getLogger(GrpcErrors.class);

    private GrpcErrors() {
    }

    public static StatusRuntimeException toStatus(String call, Throwable e) {
        if (e instanceof StatusRuntimeException s) {
            return s;
        }
        Status status;
        if (e instanceof InvalidContributionException || e instanceof InvalidUploadException || e instanceof InvalidJobSpecException
                || e instanceof FormatException || e instanceof IllegalArgumentException || e instanceof InvalidSecurityInputException) {
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
            log.error("{} failed", call, e);
            // The caller gets the message only: no class names or stack traces leave the coordinator.
            return Status.INTERNAL.withDescription(call + ": internal error: " + e.getMessage()).asRuntimeException();
        }
        log.warn("{} refused ({}): {}", call, status.getCode(), e.getMessage());
        return status.withDescription(e.getMessage()).asRuntimeException();
    }
}

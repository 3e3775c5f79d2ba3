package dev.fedprune.coordinator.web;

import dev.fedprune.coordinator.error.NotFoundException;
import dev.fedprune.coordinator.error.PermissionDeniedException;
import dev.fedprune.coordinator.error.RoundClosedException;
import dev.fedprune.coordinator.job.InvalidJobSpecException;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;

/** The one place where coordinator exceptions become HTTP statuses, with the same messages as gRPC. */
@RestControllerAdvice
public class ApiErrors {
    private static final Logger log = LoggerFactory.getLogger(ApiErrors.class);

    @ExceptionHandler(InvalidJobSpecException.class)
    ResponseEntity<Map<String, Object>> invalidSpec(InvalidJobSpecException e) {
        return error(HttpStatus.BAD_REQUEST, e.field(), e.getMessage());
    }

    /** Validation of security requests (operators, tokens): the message starts with the field name. */
    @ExceptionHandler(IllegalArgumentException.class)
    ResponseEntity<Map<String, Object>> invalidArgument(IllegalArgumentException e) {
        String message = e.getMessage() == null ? "invalid request" : e.getMessage();
        int colon = message.indexOf(": ");
        String field = colon > 0 && message.substring(0, colon).matches("[A-Za-z0-9_.\\[\\]-]+") ? message.substring(0, colon) : null;
        return error(HttpStatus.BAD_REQUEST, field, message);
    }

    @ExceptionHandler(PermissionDeniedException.class)
    ResponseEntity<Map<String, Object>> permissionDenied(PermissionDeniedException e) {
        return error(HttpStatus.FORBIDDEN, null, e.getMessage());
    }

    @ExceptionHandler(NotFoundException.class)
    ResponseEntity<Map<String, Object>> notFound(NotFoundException e) {
        return error(HttpStatus.NOT_FOUND, null, e.getMessage());
    }

    @ExceptionHandler(RoundClosedException.class)
    ResponseEntity<Map<String, Object>> closed(RoundClosedException e) {
        return error(HttpStatus.CONFLICT, null, e.getMessage());
    }

    private static ResponseEntity<Map<String, Object>> error(HttpStatus status, String field, String message) {
        log.warn("REST {}: {}", status.value(), message);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("status", status.value());
        body.put("error", status.getReasonPhrase());
        if (field != null) {
            body.put("field", field);
        }
        body.put("message", message);
        return ResponseEntity.status(status).body(body);
    }
}

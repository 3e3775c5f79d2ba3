package dev.fedprune.coordinator.error;

import com.google.protobuf.InvalidProtocolBufferException;

/** Bytes that are not the request message the method takes: names the message type and why protobuf could not read them. */
public class MalformedRequestException extends RuntimeException {
    public MalformedRequestException(String messageType, InvalidProtocolBufferException cause) {
        super("request is not a valid " + messageType + ": " + cause.getMessage(), cause);
    }
}

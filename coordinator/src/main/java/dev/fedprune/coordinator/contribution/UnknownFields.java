package dev.fedprune.coordinator.contribution;

import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import dev.fedprune.aggregation.InvalidContributionException;
import java.util.List;
import java.util.Map;

/**
 * Refuses a message that carries fields the contract does not define, at any depth: a contribution
 * padded with an unknown field would otherwise be accepted, stored and folded whatever its size.
 */
final class UnknownFields {
    private UnknownFields() {
    }

    static void refuse(String path, Message message) {
        if (!message.getUnknownFields().asMap().isEmpty()) {
            throw new InvalidContributionException(path, "unknown field number(s) " + message.getUnknownFields().asMap().keySet()
                    + " in " + message.getDescriptorForType().getName() + "; this coordinator speaks fedprune.v1 and refuses them");
        }
        for (Map.Entry<FieldDescriptor, Object> e : message.getAllFields().entrySet()) {
            if (e.getKey().getJavaType() != FieldDescriptor.JavaType.MESSAGE) {
                continue;
            }
            String at = path + "." + e.getKey().getName();
            if (e.getKey().isRepeated()) {
                List<?> items = (List<?>) e.getValue();
                for (int i = 0; i < items.size(); i++) {
                    if (items.get(i) instanceof Message m) {
                        refuse(at + "[" + i + "]", m);
                    }
                }
            } else {
                refuse(at, (Message) e.getValue());
            }
        }
    }
}

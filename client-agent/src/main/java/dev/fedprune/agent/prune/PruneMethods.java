package dev.fedprune.agent.prune;

import dev.fedprune.proto.v1.PruneMethod;
import java.util.Locale;

/**
 * The local pruners by their wire name ({@link PruneMethod}) and by the words operators type on the
 * command line and in scenario files: {@code magnitude}, {@code wanda}, {@code sparsegpt}.
 */
public final class PruneMethods {
    private static final String WORDS = "magnitude, wanda, sparsegpt";

    private PruneMethods() {
    }

    /** The method a word names, case-insensitively; IllegalArgumentException for any other word. */
    public static PruneMethod parse(String word) {
        return switch (word.toLowerCase(Locale.ROOT)) {
            case "magnitude" -> PruneMethod.PRUNE_METHOD_MAGNITUDE;
            case "wanda" -> PruneMethod.PRUNE_METHOD_WANDA;
            case "sparsegpt" -> PruneMethod.PRUNE_METHOD_SPARSEGPT;
            default -> throw new IllegalArgumentException("'" + word + "' is not one of " + WORDS);
        };
    }

    /** The word of a method, for logs, messages and file metadata. */
    public static String word(PruneMethod method) {
        return switch (method) {
            case PRUNE_METHOD_MAGNITUDE -> "magnitude";
            case PRUNE_METHOD_WANDA -> "wanda";
            case PRUNE_METHOD_SPARSEGPT -> "sparsegpt";
            default -> throw new IllegalArgumentException("prune method " + method + " is not one of " + WORDS);
        };
    }

    /** Whether {@code method} is one of the local pruners (not UNSPECIFIED, not a value from a newer coordinator). */
    public static boolean isLocalPruner(PruneMethod method) {
        return method == PruneMethod.PRUNE_METHOD_MAGNITUDE || method == PruneMethod.PRUNE_METHOD_WANDA
                || method == PruneMethod.PRUNE_METHOD_SPARSEGPT;
    }
}

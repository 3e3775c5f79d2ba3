package dev.fedprune.agent.task;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The data an agent holds, one kind per kind of job: token-id JSONL for LLM pruning jobs (calibration
 * and held-out perplexity), a directory of IDX images for sparse-training jobs. Either may be absent:
 * a task whose kind of data the agent lacks fails with {@link MissingLocalDataException}, which the
 * agent reports so that the coordinator gives the task to an agent that has it.
 *
 * @param tokens token-id JSONL file, or null
 * @param images directory of IDX image files (own training split, held-out split), or null
 */
public record LocalData(Path tokens, Path images) {
    /** What the command line names each kind of data, for messages. */
    public static final String TOKENS_OPTION = "--data";
    public static final String IMAGES_OPTION = "--images";

    /** One path: a directory is images, anything else token data. */
    public static LocalData of(Path path) {
        return Files.isDirectory(path) ? new LocalData(null, path) : new LocalData(path, null);
    }

    /** The token data for an LLM job's task, or why this agent cannot do it. */
    public Path tokensFor(String jobId) {
        if (tokens == null) {
            throw new MissingLocalDataException("job " + jobId + " prunes a language model and needs token-id JSONL data (" + TOKENS_OPTION
                    + " FILE); this agent has only " + describe());
        }
        return tokens;
    }

    /** The images for a sparse-training job's task, or why this agent cannot do it. */
    public Path imagesFor(String jobId) {
        if (images == null) {
            throw new MissingLocalDataException("job " + jobId + " trains a CNN and needs a directory of IDX images (" + IMAGES_OPTION
                    + " DIR); this agent has only " + describe());
        }
        return images;
    }

    /** For logs: what this agent can work on. */
    public String describe() {
        if (tokens == null && images == null) {
            return "no data";
        }
        return (tokens == null ? "" : "token data " + tokens) + (tokens != null && images != null ? " and " : "")
                + (images == null ? "" : "images in " + images);
    }

    /** The agent lacks the kind of data a task needs: reported to the coordinator, never retried here. */
    public static final class MissingLocalDataException extends RuntimeException {
        public MissingLocalDataException(String message) {
            super(message);
        }
    }
}

package dev.fedprune.coordinator.store;

/** Rows of the coordinator's tables, as the engine and the API see them. Times are epoch milliseconds. */
public final class Records {
    private Records() {
    }

    public record AgentRecord(String id, String name, String site, String secretSha256, String resources, long enrolledAt,
                              long lastHeartbeatAt, String state, String currentTaskId) {
    }

    public record JobRecord(String id, String name, String specJson, String state, int currentRound, int totalRounds,
                            String failureReason, String resultDir, long createdAt, long updatedAt) {
    }

    /** @param attempt the round's current attempt, from 1 (a round that missed its quorum may be opened again) */
    public record RoundRecord(String jobId, int roundIndex, String state, long openedAt, long deadlineAt, Long closedAt,
                              int selectedAgents, int quorum, int folded, int refused, String summary, int attempt) {
    }

    /** @param attempt the attempt of its round the task was issued for, from 1 */
    public record TaskRecord(String id, String jobId, int roundIndex, String agentId, String kind, String state,
                             long assignedAt, Long pulledAt, Long finishedAt, long bytesUp, String payloadSha256,
                             Long sampleCount, String error, int attempt) {
    }

    public record UploadRecord(String id, String taskId, String agentId, long committedBytes, long totalBytes, String state) {
    }

    public record JobEvent(long at, String message) {
    }
}

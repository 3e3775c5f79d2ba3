package dev.fedprune.coordinator.round;

import dev.fedprune.coordinator.artifact.ArtifactStore;
import dev.fedprune.coordinator.contribution.ContributionFile;
import dev.fedprune.coordinator.job.JobSpecParser;
import dev.fedprune.coordinator.job.JobState;
import dev.fedprune.coordinator.store.CoordinatorStore;
import dev.fedprune.coordinator.store.Records.AgentRecord;
import dev.fedprune.coordinator.store.Records.RoundRecord;
import dev.fedprune.coordinator.store.Records.TaskRecord;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * Closes rounds into their summaries and a completed job into its report: the method aggregates, this
 * class adds what every round has (agents by name, measured quality, time), commits the round and moves
 * the job on, and after the last round writes {@code result/report.json}.
 */
final class JobReports {
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private final JobLedger ledger;
    private final CoordinatorStore store;
    private final ArtifactStore artifacts;

    JobReports(JobLedger ledger, ArtifactStore artifacts) {
        this.ledger = ledger;
        this.store = ledger.store;
        this.artifacts = artifacts;
    }

    /** Aggregates the job's open round from its folded tasks, then opens the way to the next round or completes the job. */
    void closeRound(ActiveJob job, List<TaskRecord> tasks) throws IOException {
        job.state = JobState.AGGREGATING;
        ledger.saveJob(job, null, null);
        long started = ledger.now();
        Map<String, String> payloadOf = new LinkedHashMap<>();
        for (TaskRecord t : tasks) {
            if (t.state().equals("FOLDED")) {
                payloadOf.put(t.agentId(), t.payloadSha256());
            }
        }
        RoundSummary aggregated = job.method.closeRound(job.round,
                agentId -> ContributionFile.open(artifacts.verifiedPath(ArtifactStore.idOf(payloadOf.get(agentId)))));
        RoundQuality.Summary quality = RoundQuality.summarize(
                tasks.stream().filter(t -> t.state().equals("FOLDED")).map(t -> store.metrics(t.id())).toList(), job.round);
        long now = ledger.now();
        Map<String, String> names = new LinkedHashMap<>();
        store.agents().forEach(a -> names.put(a.id(), a.name()));
        RoundSummary summary = aggregated.measured(quality, now - started, id -> names.getOrDefault(id, id));
        int folded = (int) tasks.stream().filter(t -> t.state().equals("FOLDED")).count();
        String summaryJson = summary.toJson();
        String event = "round " + (job.round + 1) + "/" + job.method.totalRounds() + " aggregated from " + folded + " agents in " + (now - started) + " ms"
                + (quality == null ? "" : String.format(Locale.ROOT, "; %s of the model after %d round(s): %.4f", quality.metric(),
                job.round, quality.value()));
        if (job.round + 1 < job.method.totalRounds()) {
            // The closed round and the job moving on to the next are one commit.
            store.inTransaction(() -> {
                store.updateRound(job.id, job.round, "CLOSED", now, folded, ledger.refusedCount(job), summaryJson);
                ledger.event(job.id, event);
                job.round++;
                job.state = JobState.WAITING_FOR_AGENTS;
                job.waitingSince = now;
                ledger.saveJob(job, null, null);
            });
            return;
        }
        Path resultDir = ledger.jobDir(job.id).resolve("result");
        MethodReport methodReport = job.method.finish(resultDir);
        ObjectNode report = JSON.createObjectNode();
        report.put("jobId", job.id);
        report.put("name", job.spec.name());
        report.set("spec", JSON.readTree(JobSpecParser.toJson(job.spec)));
        report.put("modelId", job.method.manifest().modelId());
        JsonNode methodFields = JSON.valueToTree(methodReport);
        methodFields.properties().forEach(e -> report.set(e.getKey(), e.getValue()));
        report.set("rounds", JSON.valueToTree(roundReport(job, summaryJson)));
        report.put("wallMillis", ledger.now() - job.startedAt);
        Files.writeString(resultDir.resolve("report.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(report));
        // The results are on disk before the job is committed as completed: a restart in between aggregates again.
        job.state = JobState.COMPLETED;
        store.inTransaction(() -> {
            store.updateRound(job.id, job.round, "CLOSED", now, folded, ledger.refusedCount(job), summaryJson);
            ledger.event(job.id, event);
            ledger.saveJob(job, null, resultDir.toAbsolutePath().toString());
            ledger.event(job.id, "completed: overall sparsity " + methodReport.overallSparsity() + "; pruned model, global mask and report in "
                    + resultDir.toAbsolutePath());
        });
        ledger.active.remove(job.id);
    }

    /** @param closingSummary the summary of the job's last round, written to the store only after the report */
    private List<Map<String, Object>> roundReport(ActiveJob job, String closingSummary) {
        List<Map<String, Object>> rounds = new ArrayList<>();
        for (RoundRecord r : store.rounds(job.id)) {
            String summaryJson = r.summary() != null ? r.summary()
                    : r.roundIndex() == job.round && r.attempt() == job.attempt ? closingSummary : null;
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("round", r.roundIndex());
            m.put("state", r.state());
            m.put("attempt", r.attempt());
            m.put("folded", r.folded());
            m.put("refused", r.refused());
            if (summaryJson != null) {
                JsonNode summary = JSON.readTree(summaryJson);
                // What the round's defences against poisoning did (robust aggregation, trimmed vote, sample cap).
                for (String field : List.of("quality", "defence")) {
                    if (summary.has(field)) {
                        m.put(field, summary.get(field));
                    }
                }
            }
            List<Map<String, Object>> tasks = new ArrayList<>();
            for (TaskRecord t : store.tasks(job.id, r.roundIndex())) {
                Map<String, Object> tm = new LinkedHashMap<>();
                tm.put("agent", store.agent(t.agentId()).map(AgentRecord::name).orElse(t.agentId()));
                tm.put("attempt", t.attempt());
                tm.put("state", t.state());
                tm.put("bytesUp", t.bytesUp());
                tm.put("sampleCount", t.sampleCount());
                if (t.pulledAt() != null && t.finishedAt() != null) {
                    tm.put("contributeMillis", t.finishedAt() - t.pulledAt());
                }
                if (t.error() != null) {
                    tm.put("error", t.error());
                }
                tm.put("metrics", store.metrics(t.id()));
                tasks.add(tm);
            }
            m.put("tasks", tasks);
            rounds.add(m);
        }
        return rounds;
    }
}

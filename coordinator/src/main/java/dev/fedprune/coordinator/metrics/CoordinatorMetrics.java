package dev.fedprune.coordinator.metrics;

import dev.fedprune.coordinator.node.CoordinatorNode;
import dev.fedprune.coordinator.round.EngineListener;
import dev.fedprune.coordinator.store.CoordinatorStore;
import dev.fedprune.coordinator.store.Records.JobRecord;
import dev.fedprune.coordinator.store.Records.RoundRecord;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;

/**
 * The coordinator's Micrometer metrics (served at {@code /actuator/prometheus}). Totals of rounds,
 * contributions and bytes are read from the database, so they count everything since the database
 * was created and survive restarts; fold latency and refusals by reason come from the engine as they
 * happen.
 */
public final class CoordinatorMetrics implements EngineListener {
    private final MeterRegistry registry;
    private final Timer foldLatency;
    private final DistributionSummary payloadBytes;
    private MultiGauge roundProgress;
    private volatile CoordinatorStore store;

    public CoordinatorMetrics(MeterRegistry registry) {
        this.registry = registry;
        this.foldLatency = Timer.builder("fedprune.fold.latency").description("Time to decode, validate and fold one contribution")
                .publishPercentileHistogram().register(registry);
        this.payloadBytes = DistributionSummary.builder("fedprune.contribution.payload").baseUnit("bytes")
                .description("Size of folded contributions").register(registry);
    }

    /** Every engine event may change a round's progress: refresh the per-job gauge rows. */
    @Override
    public void onEvent(String jobId, String message) {
        if (store != null) {
            refreshRoundProgress(store);
        }
    }

    @Override
    public void contributionFolded(String jobId, long bytes, long foldNanos) {
        foldLatency.record(foldNanos, TimeUnit.NANOSECONDS);
        payloadBytes.record(bytes);
    }

    @Override
    public void contributionRefused(String jobId, String field) {
        Counter.builder("fedprune.contributions.refused.reason").description("Refused contributions by the field at fault")
                .tag("reason", field).register(registry).increment();
    }

    /** Registers the totals read from the node's store. */
    public void bind(CoordinatorNode node) {
        CoordinatorStore store = node.store();
        counter(store, "fedprune.rounds.opened", "Rounds opened", s -> s.roundCount(null));
        counter(store, "fedprune.rounds.completed", "Rounds aggregated", s -> s.roundCount("CLOSED"));
        counter(store, "fedprune.rounds.failed", "Rounds that failed (quorum not met)", s -> s.roundCount("FAILED"));
        counter(store, "fedprune.contributions.folded", "Contributions folded", s -> s.taskCountsByState().getOrDefault("FOLDED", 0L));
        counter(store, "fedprune.contributions.refused", "Contributions refused", s -> s.taskCountsByState().getOrDefault("REFUSED", 0L));
        counter(store, "fedprune.tasks.expired", "Tasks whose agent did not answer by the deadline", s -> s.taskCountsByState().getOrDefault("EXPIRED", 0L));
        counter(store, "fedprune.tasks.failed", "Tasks their agent reported failed", s -> s.taskCountsByState().getOrDefault("FAILED", 0L));
        FunctionCounter.builder("fedprune.bytes.in", store, s -> s.totalBytesUp()).baseUnit("bytes")
                .description("Bytes of folded contributions received from agents").register(registry);
        FunctionCounter.builder("fedprune.bytes.out", store, s -> s.metricTotal("model_bytes_down")).baseUnit("bytes")
                .description("Bytes of model artifacts agents report having downloaded").register(registry);
        Gauge.builder("fedprune.agents.online", node, n -> n.agents().onlineAgents().size()).description("Agents with a recent heartbeat").register(registry);
        Gauge.builder("fedprune.jobs.active", node, n -> n.engine().activeJobCount()).description("Jobs not finished").register(registry);
        roundProgress = MultiGauge.builder("fedprune.job.round.progress")
                .description("Folded contributions over selected agents in the job's current round").register(registry);
        this.store = store;
        refreshRoundProgress(store);
    }

    /** Micrometer holds the state object weakly: it must be the long-lived store, not a lambda. */
    private void counter(CoordinatorStore store, String name, String description, ToDoubleFunction<CoordinatorStore> value) {
        FunctionCounter.builder(name, store, value).description(description).register(registry);
    }

    synchronized void refreshRoundProgress(CoordinatorStore store) {
        List<MultiGauge.Row<?>> rows = new ArrayList<>();
        for (JobRecord job : store.jobs()) {
            if (!job.state().equals("ROUND_OPEN") && !job.state().equals("AGGREGATING")) {
                continue;
            }
            store.round(job.id(), job.currentRound()).ifPresent((RoundRecord r) -> {
                long folded = store.tasks(job.id(), r.roundIndex()).stream()
                        .filter(t -> t.attempt() == r.attempt() && t.state().equals("FOLDED")).count();
                rows.add(MultiGauge.Row.of(Tags.of("job", job.id(), "round", Integer.toString(r.roundIndex())),
                        r.selectedAgents() == 0 ? 0 : (double) folded / r.selectedAgents()));
            });
        }
        roundProgress.register(rows, true);
    }
}

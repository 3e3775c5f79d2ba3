package dev.fedprune.coordinator.fedprllm;

import dev.fedprune.coordinator.job.FedPrLlmSpec;
import dev.fedprune.coordinator.job.JobSpec;
import dev.fedprune.coordinator.method.HfModelDirectory;
import dev.fedprune.coordinator.method.MethodContext;
import dev.fedprune.coordinator.method.SpecProvider;
import dev.fedprune.coordinator.round.JobMethod;
import java.io.IOException;
import java.nio.file.Path;

/** Registers FedPrLLM ({@code method: fedprllm}) with the engine. */
public final class FedPrLlmProvider extends SpecProvider<FedPrLlmSpec> {
    public FedPrLlmProvider() {
        super(FedPrLlmSpec.NAME, FedPrLlmSpec.class, FedPrLlmSpec.FIELDS, FedPrLlmSpec::parse, FedPrLlmSpec::write);
    }

    @Override
    public void checkInputs(JobSpec job, FedPrLlmSpec spec) {
        HfModelDirectory.check(spec.modelPath());
    }

    @Override
    public String describe(JobSpec job, FedPrLlmSpec spec) {
        return "FedPrLLM " + spec.strategy().name().toLowerCase().replace('_', '-') + ", " + FedPrLlmSpec.prunerLabel(spec.localPruner())
                + " locally, sparsity " + spec.sparsityRatio() + " " + spec.patternLabel() + ", "
                + spec.comparisonGroup().name().toLowerCase() + " comparison, " + job.agentsPerRound() + " agents per round";
    }

    @Override
    public JobMethod create(MethodContext<FedPrLlmSpec> context) throws IOException {
        Path modelDir = Path.of(context.spec().modelPath());
        HfModelDirectory.Loaded model = HfModelDirectory.load(modelDir, context.artifacts());
        FedPrLlmMethod method = new FedPrLlmMethod(context.spec(), context.job().seed(), model, modelDir, context.jobDir(), context.artifacts());
        // The job's directory is named after its id (the engine's job ledger), which secure rounds bind into every key.
        method.secureRounds(context.jobDir().getFileName().toString(), context.job().quorum(), context.certificates());
        return method;
    }
}

package dev.fedprune.coordinator.fedprllm;

import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.coordinator.contribution.ContributionFile;
import dev.fedprune.coordinator.contribution.MaskSetIndex;
import dev.fedprune.coordinator.round.JobMethod;
import java.io.IOException;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The stored mask votes of a closing round, open for reading one agent's masks of one layer at a time.
 * Each contribution is verified against its SHA-256 once, when the round closes, and its masks indexed.
 */
final class RoundBallots implements AutoCloseable {
    private final Map<String, ContributionFile> files = new LinkedHashMap<>();
    private final Map<String, Map<String, MaskSetIndex.Entry>> entries = new LinkedHashMap<>();

    private RoundBallots() {
    }

    /** @param weights tensor name to number of weights, as the round's tasks asked */
    static RoundBallots open(Collection<String> agents, JobMethod.StoredContributions stored, Map<String, Long> weights) throws IOException {
        RoundBallots ballots = new RoundBallots();
        try {
            for (String agent : agents) {
                ContributionFile file = stored.open(agent);
                ballots.files.put(agent, file);
                ballots.entries.put(agent, file.masks().check(weights));
            }
        } catch (IOException | RuntimeException e) {
            ballots.close();
            throw e;
        }
        return ballots;
    }

    /** One agent's masks of the given tensors, decoded from its stored contribution. */
    Map<String, BitMask> masks(String agent, Collection<String> tensors) throws IOException {
        ContributionFile file = files.get(agent);
        Map<String, BitMask> out = new LinkedHashMap<>();
        for (String tensor : tensors) {
            out.put(tensor, file.readMask(entries.get(agent).get(tensor)));
        }
        return out;
    }

    @Override
    public void close() throws IOException {
        IOException failure = null;
        for (ContributionFile f : files.values()) {
            try {
                f.close();
            } catch (IOException e) {
                failure = e;
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}

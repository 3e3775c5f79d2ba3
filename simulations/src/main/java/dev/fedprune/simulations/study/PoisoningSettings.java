package dev.fedprune.simulations.study;

import dev.fedprune.simulations.poisoning.Poisoning;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The {@code poisoning} key of a scenario: the malicious agents each run is repeated with, a grid dimension
 * like the partitions. One mapping or a list of them; a list of fractions gives one setting per fraction.
 *
 * <pre>
 * poisoning:
 *   - {attack: none}                                          # the run without malicious agents
 *   - {attack: scaled_update, factor: 10, fraction: [0.1, 0.2, 0.3]}
 *   - {attack: sign_flip, fraction: 0.2}                      # factor 1: the update negated
 *   - {attack: inverted_masks, fraction: 0.2, seed: 3}        # seed: which agents (default: the scenario's seed)
 *   - {attack: inflated_samples, factor: 100, fraction: 0.1}  # claims 100 x its sample count
 * </pre>
 */
final class PoisoningSettings {
    private static final Set<String> KEYS = Set.of("attack", "fraction", "factor", "seed");

    private PoisoningSettings() {
    }

    /** The settings in the scenario's order; {@code [none]} when the key is absent. */
    static List<Poisoning> parse(ScenarioFields f, Path file, Map<String, Integer> lines, Map<?, ?> raw, long scenarioSeed) {
        if (!raw.containsKey("poisoning")) {
            return List.of(Poisoning.NONE);
        }
        List<Object> values = f.list("poisoning", List.of());
        List<Poisoning> out = new ArrayList<>();
        for (int i = 0; i < values.size(); i++) {
            String where = raw.get("poisoning") instanceof List<?> ? "poisoning[" + i + "]" : "poisoning";
            if (!(values.get(i) instanceof Map<?, ?> pm)) {
                throw f.error(where, "expected a mapping such as {attack: sign_flip, fraction: 0.2}, got '" + values.get(i) + "'");
            }
            ScenarioFields pf = new ScenarioFields(file, lines, pm).nested(where);
            pf.checkKeys(where + ".", KEYS);
            Poisoning.Attack attack = pf.enumValue("attack", Poisoning.Attack.class, "none");
            long seed = (long) pf.number("seed", scenarioSeed);
            if (attack == Poisoning.Attack.NONE) {
                if (pm.size() > 1) {
                    throw pf.error("attack", "attack none takes no fraction, factor or seed");
                }
                add(out, Poisoning.NONE, pf, where);
                continue;
            }
            if (!pm.containsKey("fraction")) {
                throw pf.error("fraction", "required: the fraction of agents that attack, in (0, 1), or a list of them");
            }
            if (attack == Poisoning.Attack.INVERTED_MASKS && pm.containsKey("factor")) {
                throw pf.error("factor", "inverted_masks has no strength; leave factor out");
            }
            double factor = pf.number("factor", attack.defaultFactor());
            if (attack != Poisoning.Attack.INVERTED_MASKS && (!(factor > 0) || Double.isInfinite(factor))) {
                throw pf.error("factor", "expected a finite number > 0 (sign_flip negates the update itself), got " + pm.get("factor"));
            }
            if (attack == Poisoning.Attack.INFLATED_SAMPLES && factor <= 1) {
                throw pf.error("factor", "inflated_samples claims factor x the real sample count: expected more than 1, got " + factor);
            }
            for (Object v : pf.list("fraction", List.of())) {
                double fraction = pf.doubleValue("fraction", v);
                if (!(fraction > 0 && fraction < 1)) {
                    throw pf.error("fraction", "each fraction of malicious agents must be in (0, 1), got " + v);
                }
                add(out, new Poisoning(attack, fraction, factor, seed), pf, where);
            }
        }
        return out;
    }

    private static void add(List<Poisoning> out, Poisoning p, ScenarioFields f, String where) {
        if (out.stream().anyMatch(o -> o.label().equals(p.label()))) {
            throw f.error("attack", "the setting " + p.label() + " is listed twice");
        }
        out.add(p);
    }
}

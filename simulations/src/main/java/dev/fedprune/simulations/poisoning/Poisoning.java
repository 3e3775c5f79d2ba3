package dev.fedprune.simulations.poisoning;

import dev.fedprune.agent.task.TaskContext;
import dev.fedprune.agent.task.TaskHandler;
import dev.fedprune.agent.task.TaskHandlers;
import dev.fedprune.proto.v1.Contribution;
import dev.fedprune.proto.v1.SparseUpdate;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TaskKind;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.ServiceLoader;
import java.util.Set;

/**
 * A scenario's malicious agents: which fraction of them attack, how, and with what strength. Which agents
 * are malicious is a seeded choice; a malicious agent runs the honest task handlers and then tampers with
 * what they computed ({@link Attacks}) before it is signed and uploaded, so the contribution passes every
 * check an honest one passes.
 *
 * @param fraction of the agents, in [0, 1): {@code round(fraction × agents)} of them are malicious
 * @param factor   scaled_update: the update's scale; sign_flip: the flipped update's scale; inflated_samples and
 *                 inverted_masks_inflated: the multiple of the real sample count claimed; unused by inverted_masks
 * @param seed     which agents are malicious, and inverted_masks' choices
 */
public record Poisoning(Attack attack, double fraction, double factor, long seed) {

    /** Nobody attacks. */
    public static final Poisoning NONE = new Poisoning(Attack.NONE, 0, 0, 0);

    /**
     * What a malicious agent does to its contribution: scale its sparse update, flip its sign, invert its
     * mask votes, claim more samples than it has, or invert its votes and claim more samples (the attack
     * that sample-weighted voting invites).
     */
    public enum Attack {
        NONE, SCALED_UPDATE, SIGN_FLIP, INVERTED_MASKS, INFLATED_SAMPLES, INVERTED_MASKS_INFLATED;

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** The factor a setting gets when it names none. */
        public double defaultFactor() {
            return switch (this) {
                case SCALED_UPDATE -> 10;
                case SIGN_FLIP -> 1;
                case INFLATED_SAMPLES, INVERTED_MASKS_INFLATED -> 100;
                case NONE, INVERTED_MASKS -> 0;
            };
        }
    }

    public Poisoning {
        if (!(fraction >= 0 && fraction < 1)) {
            throw new IllegalArgumentException("fraction must be in [0, 1), got " + fraction);
        }
        if ((attack == Attack.NONE) != (fraction == 0)) {
            throw new IllegalArgumentException("attack none goes with fraction 0 and any other attack with a fraction > 0, got "
                    + attack.label() + " at " + fraction);
        }
    }

    /** For results: {@code none}, {@code scaled_update x10 20%}, {@code inverted_masks 10%}. */
    public String label() {
        if (attack == Attack.NONE) {
            return "none";
        }
        String strength = attack == Attack.INVERTED_MASKS || (attack == Attack.SIGN_FLIP && factor == 1) ? ""
                : " x" + (factor == Math.rint(factor) ? String.valueOf((long) factor) : String.valueOf(factor));
        return attack.label() + strength + " " + Math.round(fraction * 100) + "%";
    }

    /**
     * The same setting in a run of a study seed: other agents attack under another seed (seed 0 keeps the
     * setting's own choice).
     */
    public Poisoning forRun(long runSeed) {
        return attack == Attack.NONE ? this : new Poisoning(attack, fraction, factor, seed ^ runSeed);
    }

    /** Which of {@code agents} agents are malicious: {@code round(fraction × agents)} of them, a seeded choice. */
    public boolean[] malicious(int agents) {
        boolean[] out = new boolean[agents];
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < agents; i++) {
            order.add(i);
        }
        Collections.shuffle(order, new Random(seed ^ 0xBAD5EEDL));
        int count = (int) Math.round(fraction * agents);
        for (int i = 0; i < count; i++) {
            out[order.get(i)] = true;
        }
        return out;
    }

    /** The handlers of a malicious agent: every handler on the class path, its contribution tampered with. */
    public TaskHandlers handlers() {
        List<TaskHandler> wrapped = new ArrayList<>();
        ServiceLoader.load(TaskHandler.class, TaskHandler.class.getClassLoader()).forEach(h -> wrapped.add(new Malicious(h)));
        return TaskHandlers.of(wrapped);
    }

    /** Applies this attack to one contribution, where it applies; anything else goes out as computed. */
    Contribution tamper(Task task, Contribution honest, TaskContext context) throws IOException {
        return switch (attack) {
            case SCALED_UPDATE, SIGN_FLIP -> {
                if (!honest.hasSparseUpdate() || !task.hasTraining() || task.getTraining().getWeightsArtifactId().isEmpty()) {
                    yield honest;
                }
                SparseUpdate global = SparseUpdate.parseFrom(context.artifact(task.getTraining().getWeightsArtifactId()));
                yield Attacks.scaleUpdate(honest, global, attack == Attack.SIGN_FLIP ? -factor : factor);
            }
            case INVERTED_MASKS -> honest.hasMasks() ? Attacks.invertMasks(honest, seed ^ task.getTaskId().hashCode()) : honest;
            case INFLATED_SAMPLES -> honest.hasMasks() || honest.hasSparseUpdate() ? Attacks.inflateSamples(honest, factor) : honest;
            case INVERTED_MASKS_INFLATED -> honest.hasMasks()
                    ? Attacks.inflateSamples(Attacks.invertMasks(honest, seed ^ task.getTaskId().hashCode()), factor) : honest;
            case NONE -> honest;
        };
    }

    /** An honest handler whose contribution this attack then tampers with. */
    private final class Malicious implements TaskHandler {
        private final TaskHandler honest;

        Malicious(TaskHandler honest) {
            this.honest = honest;
        }

        @Override
        public Set<TaskKind> kinds() {
            return honest.kinds();
        }

        @Override
        public Task.SpecCase spec() {
            return honest.spec();
        }

        @Override
        public Contribution handle(Task task, TaskContext context) throws IOException {
            Contribution computed = honest.handle(task, context);
            Contribution sent = tamper(task, computed, context);
            if (sent != computed) {
                context.metric("poisoned", 1);
            }
            return sent;
        }
    }
}

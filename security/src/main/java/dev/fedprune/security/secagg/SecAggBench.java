package dev.fedprune.security.secagg;

import dev.fedprune.security.pki.KeyPairs;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.security.KeyPair;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.stream.IntStream;

/**
 * Cost of secure aggregation of mask votes against clear (bit-packed) votes: bytes each agent uploads
 * and seconds for masking (agent) and unmasking (coordinator), wall clock and this thread's CPU time.
 * One thread throughout. Not a test; results go to docs/secure-aggregation.md with the command.
 *
 * <pre>
 * java -cp security/target/classes:$BCPROV dev.fedprune.security.secagg.SecAggBench \
 *     [--agents 64] [--weights 202375168] [--degree 2*ceil(log2 agents)] [--threshold degree/2+1]
 *     [--timed-agents agents] [--dropouts 0] [--seed 1]
 * </pre>
 * With {@code --timed-agents} below {@code --agents}, only that many agents mask; the coordinator's
 * unmasking is then timed per self mask and per dropped neighbour's pairwise mask and extrapolated to all
 * agents (the output says so). Otherwise the full round runs and the aggregate is checked against the
 * plain sum of the survivors' votes.
 */
public final class SecAggBench {
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    private SecAggBench() {
    }

    record Options(int agents, int weights, int degree, int threshold, int timedAgents, int dropouts, long seed) {
        static Options parse(String[] args) {
            Map<String, String> m = new HashMap<>();
            for (int i = 0; i + 1 < args.length; i += 2) {
                if (!args[i].startsWith("--")) {
                    throw new IllegalArgumentException("expected --option value, got " + args[i]);
                }
                m.put(args[i].substring(2), args[i + 1]);
            }
            int agents = Integer.parseInt(m.getOrDefault("agents", "64"));
            int weights = Integer.parseInt(m.getOrDefault("weights", "202375168"));
            int degree = Integer.parseInt(m.getOrDefault("degree", Integer.toString(NeighbourGraph.recommendedDegree(agents))));
            int threshold = Integer.parseInt(m.getOrDefault("threshold", Integer.toString(Math.min(agents - 1, degree) / 2 + 1)));
            int timed = Integer.parseInt(m.getOrDefault("timed-agents", Integer.toString(agents)));
            int dropouts = Integer.parseInt(m.getOrDefault("dropouts", "0"));
            return new Options(agents, weights, degree, threshold, Math.min(timed, agents), dropouts, Long.parseLong(m.getOrDefault("seed", "1")));
        }
    }

    /** Wall and CPU seconds accumulated over timed sections. */
    static final class Clock {
        double wall;
        double cpu;

        <T> T time(java.util.function.Supplier<T> work) {
            long w0 = System.nanoTime();
            long c0 = THREADS.getCurrentThreadCpuTime();
            T result = work.get();
            cpu += (THREADS.getCurrentThreadCpuTime() - c0) / 1e9;
            wall += (System.nanoTime() - w0) / 1e9;
            return result;
        }

        String show(double scale) {
            return String.format(Locale.ROOT, "%.3f / %.3f", wall * scale, cpu * scale);
        }
    }

    public static void main(String[] args) {
        Options o = Options.parse(args);
        SecureRandom random = new SecureRandom();
        SplittableRandom votes = new SplittableRandom(o.seed());
        List<String> ids = IntStream.range(0, o.agents()).mapToObj(i -> "agent-" + i).toList();
        byte[] graphSeed = new byte[32];
        new SplittableRandom(o.seed()).nextBytes(graphSeed);
        NeighbourGraph graph = NeighbourGraph.harary(o.agents(), o.degree(), graphSeed);
        SecAggRound round = SecAggRound.of("bench", 0, ids, graph, o.threshold(), o.weights());
        int degree = graph.neighbours(0).length;

        // phases 1-2: keys, signed advertisements, encrypted shares
        Clock setup = new Clock();
        Map<Integer, PublicKey> identities = new HashMap<>();
        Map<Integer, KeyAdvertisement> ads = new HashMap<>();
        List<SecAggAgent> agents = new ArrayList<>();
        for (int i = 0; i < o.agents(); i++) {
            KeyPair identity = KeyPairs.generate();
            identities.put(i, identity.getPublic());
            int index = i;
            SecAggAgent agent = setup.time(() -> new SecAggAgent(round, index, random));
            agents.add(agent);
            ads.put(i, setup.time(() -> agent.advertise(identity.getPrivate())));
        }
        List<ShareEnvelope> envelopes = new ArrayList<>();
        for (SecAggAgent agent : agents) {
            envelopes.addAll(setup.time(() -> agent.shareSecrets(ads, identities, random)));
        }
        setup.time(() -> {
            envelopes.forEach(e -> agents.get(e.to()).receive(e));
            return null;
        });
        long envelopeBytesAgent0 = envelopes.stream().filter(e -> e.from() == 0).mapToLong(ShareEnvelope::wireBytes).sum();

        // phase 3: masking, and the coordinator's running sum
        boolean full = o.timedAgents() == o.agents();
        int masking = full ? o.agents() - o.dropouts() : o.timedAgents();
        Set<Integer> shared = new TreeSet<>(IntStream.range(0, o.agents()).boxed().toList());
        SecAggAggregator aggregator = new SecAggAggregator(round, ads, shared);
        VoteVector plainSum = full ? VoteVector.zeros(o.weights(), round.fieldBits()) : null;
        Clock encode = new Clock();
        Clock mask = new Clock();
        Clock serverAdd = new Clock();
        long[] bits = new long[(o.weights() + 63) >>> 6];
        for (int a = 0; a < masking; a++) {
            for (int w = 0; w < bits.length; w++) {
                bits[w] = votes.nextLong();
            }
            if ((o.weights() & 63) != 0) {
                bits[bits.length - 1] &= (1L << (o.weights() & 63)) - 1;
            }
            VoteVector v = encode.time(() -> VoteVector.fromMask(bits, o.weights(), round.fieldBits()));
            SecAggAgent agent = agents.get(a);
            VoteVector masked = mask.time(() -> agent.mask(v));
            int index = a;
            serverAdd.time(() -> {
                aggregator.accept(index, masked);
                return null;
            });
            if (plainSum != null) {
                plainSum.add(v);
            }
        }

        // phase 4: unmasking
        Clock unmask = new Clock();
        String check;
        double unmaskScale;
        if (full) {
            List<RevealedShare> revealed = new ArrayList<>();
            for (int s : aggregator.survivors()) {
                revealed.addAll(agents.get(s).reveal(aggregator.survivors(), aggregator.dropped()));
            }
            VoteVector result = unmask.time(() -> aggregator.unmask(revealed));
            check = result.equals(plainSum) ? "aggregate == plain sum of survivors" : "MISMATCH";
            unmaskScale = 1;
        } else {
            // one self-mask removal per survivor (reconstruct b_u, subtract PRG(b_u)); the sum of m vectors stands in for the sum of all
            VoteVector scratch = VoteVector.zeros(o.weights(), round.fieldBits());
            byte[] b = new byte[32];
            for (int a = 0; a < o.timedAgents(); a++) {
                random.nextBytes(b);
                List<SeedShare> shares = Shamir.split(b, o.threshold(), degree, random);
                unmask.time(() -> {
                    MaskPrg.subtractFrom(scratch, Shamir.combine(shares, o.threshold()));
                    return null;
                });
            }
            unmaskScale = (double) o.agents() / o.timedAgents();
            check = "not checked: " + o.timedAgents() + " of " + o.agents() + " agents masked; unmasking timed for " + o.timedAgents()
                    + " self masks and scaled by " + String.format(Locale.ROOT, "%.1f", unmaskScale) + " (no dropouts)";
        }

        long maskedBytes = VoteVector.zeros(o.weights(), round.fieldBits()).byteCount();
        long adBytes = ads.get(0).wireBytes();
        long revealBytes = (long) degree * RevealedShare.WIRE_BYTES;
        long secureBytes = maskedBytes + adBytes + envelopeBytesAgent0 + revealBytes;
        long clearBytes = (o.weights() + 7L) / 8;
        double perAgent = 1.0 / Math.max(1, masking);
        double masksPerAgent = degree + 1;
        double prgGbPerSecCpu = masksPerAgent * maskedBytes / 1e9 / (mask.cpu * perAgent);

        System.out.printf(Locale.ROOT, "agents=%d weights=%d k=%d degree=%d threshold=%d dropouts=%d masked_agents=%d heap_max_mb=%d%n", o.agents(),
                o.weights(), round.fieldBits(), degree, o.threshold(), full ? o.dropouts() : 0, masking, Runtime.getRuntime().maxMemory() >> 20);
        System.out.println("| quantity | secure | clear |");
        System.out.println("|---|---|---|");
        System.out.printf(Locale.ROOT, "| upload bytes per agent | %,d (masked %,d + keys %d + shares out %,d + shares revealed %,d) | %,d |%n", secureBytes,
                maskedBytes, adBytes, envelopeBytesAgent0, revealBytes, clearBytes);
        System.out.printf(Locale.ROOT, "| upload ratio | %.2fx | 1x |%n", (double) secureBytes / clearBytes);
        System.out.printf(Locale.ROOT, "| agent keys + shares s (wall / CPU), per agent | %s | 0 |%n", setup.show(1.0 / o.agents()));
        System.out.printf(Locale.ROOT, "| agent encode votes as k-bit fields s, per agent | %s | 0 (bit-packed as is) |%n", encode.show(perAgent));
        System.out.printf(Locale.ROOT, "| agent masking s (%d PRG expansions), per agent | %s | 0 |%n", degree + 1, mask.show(perAgent));
        System.out.printf(Locale.ROOT, "| PRG + add throughput, CPU | %.2f GB/s of mask | - |%n", prgGbPerSecCpu);
        System.out.printf(Locale.ROOT, "| coordinator sum of masked vectors s, all agents | %s | see docs/benchmarks.md (bit-sliced fold) |%n",
                serverAdd.show((double) o.agents() / masking));
        System.out.printf(Locale.ROOT, "| coordinator unmasking s, whole round | %s | 0 |%n", unmask.show(unmaskScale));
        System.out.println("check: " + check);
    }
}

package dev.fedprune.agent.engine;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.training.GradientCollector;
import dev.fedprune.agent.engine.ReferenceOps.ConvShape;
import dev.fedprune.agent.engine.ReferenceOps.Result;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.UnaryOperator;

/**
 * Checks the tensor engine against {@link ReferenceOps} before an agent trusts it with training: a
 * forward and backward pass of each layer kind the CNNs use (convolutions with 1 input channel, 3x3 and
 * 1x1 stride 2, BatchNorm in training mode, linear), on seeded data, each run twice. A value outside the
 * float32 error bound of the reference, a non-finite value, or two runs that differ in a single bit is a
 * {@link Finding}. It exists because a vectorised kernel that is wrong on one processor family returns
 * plausible garbage, not an error. Takes well under a second; owns its NDManager.
 */
public final class EngineSelfCheck {
    /**
     * Float32 rounding budget per unit of the sum of |terms|: summing m terms in float32 errs by at most
     * about m·2⁻²⁴·Σ|t| in the worst case and √m·2⁻²⁴·Σ|t| typically; 1e-4 is far above the typical error
     * of the m ≤ 10⁴ terms here and far below what a faulty kernel returns.
     */
    static final double RELATIVE_TOLERANCE = 1e-4;
    static final double ABSOLUTE_TOLERANCE = 1e-6;
    private static final float BN_EPSILON = 1e-5f;

    /** One layer check: which op, on which shape. */
    public sealed interface Case permits Conv, BatchNorm2d, Dense {
        String op();

        String describe();
    }

    public record Conv(ConvShape shape) implements Case {
        @Override
        public String op() {
            return shape.kernel() == 1 ? "conv2d 1x1" : "conv2d " + shape.kernel() + "x" + shape.kernel();
        }

        @Override
        public String describe() {
            return shape.toString();
        }
    }

    public record BatchNorm2d(int n, int c, int side) implements Case {
        @Override
        public String op() {
            return "batch_norm (training)";
        }

        @Override
        public String describe() {
            return "N" + n + " C" + c + " " + side + "x" + side;
        }
    }

    public record Dense(int n, int in, int out) implements Case {
        @Override
        public String op() {
            return "linear";
        }

        @Override
        public String describe() {
            return "N" + n + " " + in + " -> " + out;
        }
    }

    /** What went wrong in one tensor of one case. */
    public record Finding(String op, String shape, String tensor, String problem) {
        @Override
        public String toString() {
            return op + " [" + shape + "] " + tensor + ": " + problem;
        }
    }

    /**
     * The outcome of a check: the findings (none when the engine computes correctly), where it ran and
     * the time it took.
     */
    public record Report(List<Finding> findings, int cases, CpuInfo cpu, boolean oneDnn, long elapsedMillis) {
        public Report {
            findings = List.copyOf(findings);
        }

        public boolean passed() {
            return findings.isEmpty();
        }

        /** One line for an operator: the verdict, the processor, the engine setting and the first findings. */
        public String summary() {
            String where = "on " + cpu.describe() + " with libtorch oneDNN " + (oneDnn ? "on" : "off");
            if (passed()) {
                return "engine self-check passed " + where + " (" + cases + " layer checks, " + elapsedMillis + " ms)";
            }
            StringBuilder out = new StringBuilder("engine self-check failed " + where + ": " + findings.size() + " wrong result(s), first ");
            out.append(findings.get(0));
            return out.toString();
        }
    }

    /**
     * The default cases: the shapes of the CNNs' layers that exercise distinct kernels, at a batch large
     * enough that the engine takes its vectorised (oneDNN) path: a first convolution with 1 input channel
     * and fewer output channels than a 512-bit vector holds, 3x3 convolutions inside the network, the
     * ResNet 1x1 stride-2 shortcut and 3x3 stride-2 convolution, BatchNorm and the classifier.
     */
    public static List<Case> defaultCases() {
        return List.of(
                new Conv(new ConvShape(16, 1, 28, 28, 4, 3, 1, 1)),
                new Conv(new ConvShape(16, 1, 28, 28, 16, 3, 1, 1)),
                new Conv(new ConvShape(16, 4, 14, 14, 8, 3, 1, 1)),
                new Conv(new ConvShape(16, 16, 14, 14, 32, 3, 1, 1)),
                new Conv(new ConvShape(16, 8, 8, 8, 16, 1, 2, 0)),
                new Conv(new ConvShape(16, 8, 8, 8, 16, 3, 2, 1)),
                new BatchNorm2d(16, 8, 7),
                new Dense(16, 392, 10));
    }

    private static Report processReport;

    private final List<Case> cases;
    private final long seed;
    private final UnaryOperator<List<float[]>> engineResults;

    public EngineSelfCheck(List<Case> cases, long seed) {
        this(cases, seed, UnaryOperator.identity());
    }

    /**
     * @param engineResults applied to what the engine returned for each run of a case (output, then the
     *                      gradients, in the order of {@link #reference}) before it is judged: lets tests
     *                      stand in a faulty engine on any processor
     */
    EngineSelfCheck(List<Case> cases, long seed, UnaryOperator<List<float[]>> engineResults) {
        if (cases.isEmpty()) {
            throw new IllegalArgumentException("a self-check needs at least one case");
        }
        this.cases = List.copyOf(cases);
        this.seed = seed;
        this.engineResults = engineResults;
    }

    public static EngineSelfCheck withDefaults() {
        return new EngineSelfCheck(defaultCases(), 20261202L);
    }

    /**
     * The default check, run on the first call in this process and remembered: agents keep the engine
     * settings {@link TorchSettings#apply()} chose for as long as they run, so the verdict cannot change.
     */
    public static synchronized Report onceForThisProcess() {
        if (processReport == null) {
            processReport = withDefaults().run();
        }
        return processReport;
    }

    /**
     * Runs every case twice on the CPU with the engine as configured ({@link TorchSettings#apply()} first);
     * never throws for a wrong result.
     */
    public Report run() {
        TorchSettings.apply();
        long start = System.nanoTime();
        List<Finding> findings = new ArrayList<>();
        Engine engine = Engine.getEngine("PyTorch");
        SplittableRandom random = new SplittableRandom(seed);
        try (NDManager manager = engine.newBaseManager(ai.djl.Device.cpu())) {
            for (Case c : cases) {
                long caseSeed = random.nextLong();
                List<float[]> first = engineResults.apply(runOnEngine(engine, manager, c, caseSeed));
                List<float[]> second = engineResults.apply(runOnEngine(engine, manager, c, caseSeed));
                List<Named> reference = reference(c, caseSeed);
                for (int t = 0; t < reference.size(); t++) {
                    Named ref = reference.get(t);
                    String problem = compare(first.get(t), ref.result());
                    if (problem == null && !java.util.Arrays.equals(first.get(t), second.get(t))) {
                        problem = "two runs on the same input differ (first at index " + firstDifference(first.get(t), second.get(t)) + ")";
                    }
                    if (problem != null) {
                        findings.add(new Finding(c.op(), c.describe(), ref.name(), problem));
                    }
                }
            }
        } finally {
            ai.djl.pytorch.jni.JniUtils.setGradMode(false);
        }
        return new Report(findings, cases.size(), CpuInfo.current(), TorchSettings.oneDnnEnabled(), (System.nanoTime() - start) / 1_000_000);
    }

    private record Named(String name, Result result) {
    }

    private static List<Named> reference(Case c, long seed) {
        Inputs in = Inputs.of(c, seed);
        List<Named> out = new ArrayList<>();
        if (c instanceof Conv conv) {
            Result[] grads = ReferenceOps.convBackward(conv.shape(), in.x, in.w, in.g);
            out.add(new Named("output", ReferenceOps.convForward(conv.shape(), in.x, in.w)));
            out.add(new Named("input gradient", grads[0]));
            out.add(new Named("weight gradient", grads[1]));
        } else if (c instanceof BatchNorm2d bn) {
            int hw = bn.side() * bn.side();
            Result[] grads = ReferenceOps.batchNormBackward(bn.n(), bn.c(), hw, in.x, in.w, in.g, BN_EPSILON);
            out.add(new Named("output", ReferenceOps.batchNormForward(bn.n(), bn.c(), hw, in.x, in.w, in.b, BN_EPSILON)));
            out.add(new Named("input gradient", grads[0]));
            out.add(new Named("gamma gradient", grads[1]));
            out.add(new Named("beta gradient", grads[2]));
        } else if (c instanceof Dense d) {
            Result[] grads = ReferenceOps.linearBackward(d.n(), d.in(), d.out(), in.x, in.w, in.g);
            out.add(new Named("output", ReferenceOps.linearForward(d.n(), d.in(), d.out(), in.x, in.w, in.b)));
            out.add(new Named("input gradient", grads[0]));
            out.add(new Named("weight gradient", grads[1]));
            out.add(new Named("bias gradient", grads[2]));
        }
        return out;
    }

    /** The engine's output and gradients, in the order of {@link #reference}. */
    private static List<float[]> runOnEngine(Engine engine, NDManager parent, Case c, long seed) {
        Inputs in = Inputs.of(c, seed);
        try (NDManager m = parent.newSubManager()) {
            NDArray x = m.create(in.x, in.xShape);
            NDArray w = m.create(in.w, in.wShape);
            NDArray b = in.b == null ? null : m.create(in.b, new Shape(in.b.length));
            NDArray g = m.create(in.g, in.gShape);
            x.setRequiresGradient(true);
            w.setRequiresGradient(true);
            if (b != null) {
                b.setRequiresGradient(true);
            }
            float[] y;
            try (GradientCollector collector = engine.newGradientCollector()) {
                NDArray out;
                if (c instanceof Conv conv) {
                    ConvShape s = conv.shape();
                    out = Conv2d.conv2d(x, w, null, new Shape(s.stride(), s.stride()), new Shape(s.padding(), s.padding()), new Shape(1, 1), 1)
                            .singletonOrThrow();
                } else if (c instanceof BatchNorm2d bn) {
                    out = BatchNorm.batchNorm(x, m.zeros(new Shape(bn.c())), m.ones(new Shape(bn.c())), w, b, 1, 0.9f, BN_EPSILON, true)
                            .singletonOrThrow();
                } else {
                    out = Linear.linear(x, w, b).singletonOrThrow();
                }
                y = out.toFloatArray();
                collector.backward(out.mul(g).sum());
            }
            List<float[]> result = new ArrayList<>();
            result.add(y);
            result.add(x.getGradient().toFloatArray());
            result.add(w.getGradient().toFloatArray());
            if (b != null) {
                result.add(b.getGradient().toFloatArray());
            }
            return result;
        }
    }

    /** Seeded inputs of one case: x, the weight (gamma for BatchNorm), the bias (beta), the output gradient. */
    private record Inputs(float[] x, Shape xShape, float[] w, Shape wShape, float[] b, float[] g, Shape gShape) {
        static Inputs of(Case c, long seed) {
            SplittableRandom r = new SplittableRandom(seed);
            if (c instanceof Conv conv) {
                ConvShape s = conv.shape();
                return new Inputs(gaussian(r, s.inputSize(), 1), new Shape(s.n(), s.c(), s.h(), s.w()),
                        gaussian(r, s.weightSize(), Math.sqrt(2.0 / (s.c() * s.kernel() * s.kernel()))),
                        new Shape(s.outChannels(), s.c(), s.kernel(), s.kernel()), null,
                        gaussian(r, s.outputSize(), 1), new Shape(s.n(), s.outChannels(), s.outH(), s.outW()));
            }
            if (c instanceof BatchNorm2d bn) {
                int size = bn.n() * bn.c() * bn.side() * bn.side();
                Shape shape = new Shape(bn.n(), bn.c(), bn.side(), bn.side());
                float[] x = gaussian(r, size, 2);
                for (int i = 0; i < size; i++) {
                    x[i] += (i / (bn.side() * bn.side())) % bn.c(); // a different mean per channel
                }
                float[] gamma = gaussian(r, bn.c(), 1);
                return new Inputs(x, shape, gamma, new Shape(bn.c()), gaussian(r, bn.c(), 1), gaussian(r, size, 1), shape);
            }
            Dense d = (Dense) c;
            return new Inputs(gaussian(r, d.n() * d.in(), 1), new Shape(d.n(), d.in()),
                    gaussian(r, d.out() * d.in(), Math.sqrt(1.0 / d.in())), new Shape(d.out(), d.in()),
                    gaussian(r, d.out(), 1), gaussian(r, d.n() * d.out(), 1), new Shape(d.n(), d.out()));
        }

        private static float[] gaussian(SplittableRandom r, int size, double std) {
            float[] out = new float[size];
            for (int i = 0; i < size; i++) {
                out[i] = (float) (r.nextGaussian() * std);
            }
            return out;
        }
    }

    /** Null when every value is finite and within the error bound of the reference, else what is wrong. */
    static String compare(float[] actual, Result reference) {
        double[] expected = reference.values();
        if (actual.length != expected.length) {
            return actual.length + " values, expected " + expected.length;
        }
        int worst = -1;
        double worstRatio = 0;
        for (int i = 0; i < actual.length; i++) {
            if (!Float.isFinite(actual[i])) {
                return "value at index " + i + " is not finite: " + actual[i] + " (expected " + (float) expected[i] + ")";
            }
            double bound = RELATIVE_TOLERANCE * reference.absoluteTerms()[i] + ABSOLUTE_TOLERANCE;
            double ratio = Math.abs(actual[i] - expected[i]) / bound;
            if (ratio > worstRatio) {
                worstRatio = ratio;
                worst = i;
            }
        }
        if (worstRatio > 1) {
            return "value at index " + worst + " is " + actual[worst] + ", expected " + (float) expected[worst]
                    + String.format(" (error %.3g, bound %.3g)", Math.abs(actual[worst] - expected[worst]),
                            RELATIVE_TOLERANCE * reference.absoluteTerms()[worst] + ABSOLUTE_TOLERANCE);
        }
        return null;
    }

    private static int firstDifference(float[] a, float[] b) {
        for (int i = 0; i < a.length; i++) {
            if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) {
                return i;
            }
        }
        return -1;
    }

    /**
     * Runs the default check and prints every finding; exit status 1 when the engine is wrong:
     * {@code java [-Dfedprune.engine.onednn=true] -cp agent.jar dev.fedprune.agent.engine.EngineSelfCheck}.
     */
    public static void main(String[] args) {
        if (args.length == 1 && args[0].equals("--sweep")) {
            sweep();
            return;
        }
        Report report = withDefaults().run();
        System.out.println(report.summary());
        if (report.findings().size() > 1) {
            report.findings().forEach(f -> System.out.println("  " + f));
        }
        System.exit(report.passed() ? 0 : 1);
    }

    /**
     * {@code --sweep}: which 3x3 convolutions (16 images, 14x14, padding 1) the engine gets wrong, by input
     * and output channels, each shape checked three times: the table of docs/benchmarks.md.
     */
    private static void sweep() {
        int[] inputs = {1, 3, 4, 8, 16, 32};
        int[] outputs = {1, 4, 8, 12, 16, 24, 32, 48};
        System.out.print("| in \\ out |");
        for (int out : outputs) {
            System.out.print(" " + out + " |");
        }
        System.out.println();
        System.out.println("|---".repeat(outputs.length + 1) + "|");
        Report last = null;
        for (int in : inputs) {
            StringBuilder row = new StringBuilder("| " + in + " |");
            for (int out : outputs) {
                List<Case> cases = new ArrayList<>();
                for (int repeat = 0; repeat < 3; repeat++) {
                    cases.add(new Conv(new ConvShape(16, in, 14, 14, out, 3, 1, 1)));
                }
                last = new EngineSelfCheck(cases, 7).run();
                java.util.Set<String> wrong = new java.util.TreeSet<>();
                last.findings().forEach(f -> wrong.add(f.tensor()));
                row.append(' ').append(wrong.isEmpty() ? "ok" : String.join(", ", wrong)).append(" |");
            }
            System.out.println(row);
        }
        System.out.println("on " + last.cpu().describe() + ", libtorch oneDNN " + (last.oneDnn() ? "on" : "off"));
    }
}

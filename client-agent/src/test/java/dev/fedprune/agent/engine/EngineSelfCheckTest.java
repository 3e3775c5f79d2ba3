package dev.fedprune.agent.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.agent.engine.EngineSelfCheck.Conv;
import dev.fedprune.agent.engine.EngineSelfCheck.Finding;
import dev.fedprune.agent.engine.EngineSelfCheck.Report;
import dev.fedprune.agent.engine.ReferenceOps.ConvShape;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** The engine self-check: passes on the engine as agents configure it, and refuses wrong, non-finite or unstable results. */
class EngineSelfCheckTest {
    /** Small enough to run in milliseconds; the refusal tests do not depend on which kernel the engine picks. */
    private static final List<EngineSelfCheck.Case> SMALL = List.of(new Conv(new ConvShape(2, 1, 5, 5, 2, 3, 1, 1)));

    @Test
    void passesOnTheEngineAsAgentsConfigureIt() {
        Report report = EngineSelfCheck.withDefaults().run();
        assertTrue(report.passed(), () -> report.summary() + "\n" + report.findings());
        assertFalse(report.oneDnn(), "TorchSettings.apply() turns oneDNN off");
        assertEquals(EngineSelfCheck.defaultCases().size(), report.cases());
        assertTrue(report.summary().startsWith("engine self-check passed on " + report.cpu().describe()), report.summary());
    }

    /**
     * Reproduces the oneDNN 3.7.1 fault inside libtorch 2.7.1: its blocked direct convolution returns
     * wrong input gradients (backward-data, jit:avx512_core and jit:avx2) when a convolution's output
     * channels are not a multiple of the instruction set's channel block (16 with AVX-512, 8 with AVX2):
     * 4 and 12 are neither. Each case runs three times, since the garbage differs from run to run, and the
 * whole check up to five times, since on some runs it does not show at all.
     * Where the fault shows depends on more than the instruction set (the kernels' blocking follows the
     * cache sizes oneDNN reads, and AVX2 machines of earlier CI runs passed tests it breaks here), so
     * this test asserts it only on the processor family it was reported and measured on, AMD family 26
     * with AVX-512; the deterministic refusal tests below run everywhere.
     */
    @Test
    void refusesLibtorchWithOneDnnOnWhereItsConvolutionGradientsAreWrong() {
        CpuInfo cpu = CpuInfo.current();
        Assumptions.assumeTrue(cpu.family() == 26 && cpu.flags().contains("avx512f") && cpu.model().contains("AMD"),
                "the oneDNN fault is asserted on AMD family 26 with AVX-512 only, this is " + cpu.describe());
        List<EngineSelfCheck.Case> cases = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            cases.add(new Conv(new ConvShape(16, 1, 28, 28, 4, 3, 1, 1)));
            cases.add(new Conv(new ConvShape(16, 4, 14, 14, 12, 3, 1, 1)));
        }
        TorchSettings.apply(); // first, or run() would apply it and turn oneDNN off again
        Report report = null;
        try {
            TorchSettings.setOneDnnEnabled(true);
            // The fault is intermittent (once in a CI run of 3 December 2026 all six cases came out right):
            // up to five self-checks, and the test is skipped, saying so, if the fault never shows.
            for (int attempt = 0; attempt < 5 && (report == null || report.passed()); attempt++) {
                report = new EngineSelfCheck(cases, 7 + attempt).run();
                assertTrue(report.oneDnn());
            }
        } finally {
            TorchSettings.setOneDnnEnabled(false);
        }
        Report last = report;
        Assumptions.assumeFalse(last.passed(), () -> "SKIPPED: oneDNN's backward-data convolution was right in 5 self-checks of 6 cases on "
                + last.cpu().describe() + "; the refusal itself is tested deterministically below");
        assertTrue(report.findings().stream().anyMatch(f -> f.op().startsWith("conv2d") && f.tensor().equals("input gradient")),
                report.findings().toString());
        assertTrue(report.summary().contains(report.cpu().describe()) && report.summary().contains("conv2d"), report.summary());
    }

    @Test
    void refusesANonFiniteGradientNamingOpAndTensor() {
        Report report = corrupted(results -> {
            results.get(1)[5] = Float.NaN; // the input gradient
            return results;
        });
        Finding f = onlyFinding(report);
        assertEquals("conv2d 3x3", f.op());
        assertEquals("N2 C1 5x5 -> O2 k3 s1 p1", f.shape());
        assertEquals("input gradient", f.tensor());
        assertTrue(f.problem().startsWith("value at index 5 is not finite: NaN"), f.problem());
        assertTrue(report.summary().contains(report.cpu().describe()) && report.summary().contains("conv2d 3x3 [N2 C1 5x5 -> O2 k3 s1 p1] input gradient"),
                report.summary());
    }

    @Test
    void refusesAWrongValueNamingOpAndTensor() {
        Report report = corrupted(results -> {
            results.get(0)[3] += 0.01f; // the output, far outside the float32 rounding budget
            return results;
        });
        Finding f = onlyFinding(report);
        assertEquals("conv2d 3x3", f.op());
        assertEquals("output", f.tensor());
        assertTrue(f.problem().startsWith("value at index 3 is "), f.problem());
        assertTrue(f.problem().contains("bound"), f.problem());
    }

    @Test
    void refusesTwoRunsThatDifferEvenWithinTheErrorBound() {
        AtomicInteger run = new AtomicInteger();
        Report report = corrupted(results -> {
            if (run.incrementAndGet() == 2) {
                float[] weightGradient = results.get(2);
                weightGradient[4] = Math.nextUp(weightGradient[4]); // one ulp: right, but not the same twice
            }
            return results;
        });
        Finding f = onlyFinding(report);
        assertEquals("weight gradient", f.tensor());
        assertEquals("two runs on the same input differ (first at index 4)", f.problem());
    }

    @Test
    void passesTheSameSmallCaseUncorrupted() {
        // The control of the three refusals above: the findings come from the corruption alone.
        Report report = corrupted(UnaryOperator.identity());
        assertTrue(report.passed(), report::summary);
    }

    private static Report corrupted(UnaryOperator<List<float[]>> engineResults) {
        return new EngineSelfCheck(SMALL, 3, engineResults).run();
    }

    private static Finding onlyFinding(Report report) {
        assertFalse(report.passed());
        assertTrue(report.summary().startsWith("engine self-check failed on " + report.cpu().describe()), report.summary());
        assertEquals(1, report.findings().size(), report.findings().toString());
        return report.findings().get(0);
    }
}

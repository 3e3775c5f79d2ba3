package dev.fedprune.agent.task;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Progress lines: the first report, at most one per interval, the last when the work was long; quick work says nothing. */
class LoggedProgressTest {
    final AtomicLong now = new AtomicLong(1_000_000);
    final List<String> lines = new ArrayList<>();

    @Test
    void aLongTransferLogsItsStartOneLinePerIntervalAndItsEnd() {
        LoggedProgress p = new LoggedProgress("model.safetensors ", true, now::get, 5_000, lines::add);
        long total = 100L << 20;
        now.addAndGet(1_000);
        p.progress("download", 10L << 20, total);   // first report: logged
        now.addAndGet(2_000);
        p.progress("download", 30L << 20, total);   // within the interval: not logged
        now.addAndGet(3_000);
        p.progress("download", 60L << 20, total);   // an interval after the first line: logged
        now.addAndGet(4_000);
        p.progress("download", total, total);       // the end of a long transfer: logged
        assertEquals(List.of(
                "model.safetensors download: 10.0 of 100.0 MiB (10%), 10.0 MiB/s, about 9 s left",
                "model.safetensors download: 60.0 of 100.0 MiB (60%), 10.0 MiB/s, about 4 s left",
                "model.safetensors download: 100.0 of 100.0 MiB (100%), 10.0 MiB/s"), lines);
    }

    @Test
    void quickWorkLogsNothingAndStepsAreCounted() {
        LoggedProgress quick = new LoggedProgress("t ", false, now::get, 5_000, lines::add);
        quick.progress("prune", 4, 4);
        assertEquals(List.of(), lines, "work done at its first report needs no line");

        LoggedProgress steps = new LoggedProgress("agent-1: task t-1 ", false, now::get, 5_000, lines::add);
        steps.progress("prune", 1, 32);
        now.addAndGet(6_000);
        steps.progress("prune", 12, 32);
        assertEquals(List.of("agent-1: task t-1 prune: 1 of 32 (3%)", "agent-1: task t-1 prune: 12 of 32 (38%)"), lines);
    }
}

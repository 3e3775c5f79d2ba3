package dev.fedprune.coordinator.round;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.aggregation.format.ModelManifest;
import dev.fedprune.coordinator.contribution.ContributionFile;
import dev.fedprune.coordinator.store.Records.AgentRecord;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TaskKind;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The per-agent seam of {@link JobMethod}: what a method learns of an agent, and the defaults existing methods keep. */
class AgentViewTest {

    private static AgentRecord agent(String resources) {
        return new AgentRecord("agent-1", "hospital-a", "site", null, resources, 0, 0, "IDLE", null);
    }

    @Test
    void readsTheMemoryTheAgentReported() {
        AgentView view = AgentView.of(agent("{\"cpuCores\":2,\"memoryBytes\":8589934592,\"accelerator\":\"cpu\",\"deviceClass\":\"\"}"));
        assertEquals(new AgentView("agent-1", "hospital-a", 8L << 30), view);
        assertTrue(view.reportedMemory());
    }

    @Test
    void anAgentThatReportedNoMemoryHasZero() {
        assertEquals(0, AgentView.of(agent(null)).memoryBytes());
        assertEquals(0, AgentView.of(agent("{\"cpuCores\":1,\"memoryBytes\":0}")).memoryBytes());
        assertFalse(AgentView.of(agent("{\"cpuCores\":1}")).reportedMemory());
    }

    @Test
    void aMethodWithoutPerAgentWorkGivesEveryAgentTheRoundsTaskAndOpensTheRoundAsBefore() {
        List<Integer> opened = new ArrayList<>();
        Task.Builder roundTask = Task.newBuilder().setKind(TaskKind.TASK_KIND_MASK_VOTE);
        JobMethod method = new JobMethod() {
            public ModelManifest manifest() { return null; }
            public dev.fedprune.proto.v1.ModelManifest wireManifest() { return null; }
            public int totalRounds() { return 1; }
            public Task.Builder taskTemplate(int roundIndex) { return roundTask; }
            public void openRound(int roundIndex) { opened.add(roundIndex); }
            public void fold(int roundIndex, String agentId, ContributionFile contribution) { }
            public RoundSummary closeRound(int roundIndex, StoredContributions stored) { return null; }
            public void restoreClosedRounds(int closedRounds) { }
            public MethodReport finish(Path resultDir) { return null; }
        };
        AgentView a = new AgentView("a", "a", 1L << 30);
        assertSame(roundTask, method.taskTemplate(0, a));
        method.openRound(3, List.of(a, new AgentView("b", "b", 0)));
        assertEquals(List.of(3), opened);
        assertTrue(method.handOver(3, a, new AgentView("c", "c", 0)));
    }
}

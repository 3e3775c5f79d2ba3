package dev.fedprune.coordinator.web;

import dev.fedprune.coordinator.error.NotFoundException;
import dev.fedprune.coordinator.job.JobSpecParser;
import dev.fedprune.coordinator.node.CoordinatorNode;
import dev.fedprune.coordinator.store.CoordinatorStore;
import dev.fedprune.coordinator.store.Records.AgentRecord;
import dev.fedprune.coordinator.store.Records.JobRecord;
import dev.fedprune.coordinator.store.Records.RoundRecord;
import dev.fedprune.coordinator.store.Records.TaskRecord;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.security.core.Authentication;
import dev.fedprune.coordinator.security.AuditLog;
import dev.fedprune.coordinator.job.JobSpec;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;
import tools.jackson.databind.json.JsonMapper;

/** REST API for operators: submit, list, inspect and cancel jobs; list agents. */
@RestController
@RequestMapping("/api")
public class JobController {
    private static final JsonMapper JSON = JsonMapper.builder().build();
    private final CoordinatorNode node;
    private final CoordinatorStore store;

    public JobController(CoordinatorNode node) {
        this.node = node;
        this.store = node.store();
    }

    /** Accepts the spec as YAML or JSON, whatever the content type says. */
    @PostMapping(path = "/jobs", consumes = "*/*")
    public ResponseEntity<Map<String, Object>> submit(@RequestBody String spec, Authentication authentication) {
        JobSpec parsed = JobSpecParser.parse(spec);
        String operator = SecurityController.who(authentication).username();
        // The job, who submitted it and the audit entry are committed together, before the 201.
        String id = store.inTransaction(() -> {
            String created = node.engine().submit(parsed);
            store.addEvent(created, System.currentTimeMillis(), "submitted by " + operator);
            node.audit().success(AuditLog.JOB_SUBMITTED, operator, created, parsed.name());
            return created;
        });
        return ResponseEntity.status(HttpStatus.CREATED).header("Location", "/api/jobs/" + id).body(job(id));
    }

    @GetMapping("/jobs")
    public List<Map<String, Object>> jobs() {
        return store.jobs().stream().map(JobController::summary).toList();
    }

    @GetMapping("/jobs/{id}")
    public Map<String, Object> job(@PathVariable String id) {
        JobRecord job = store.job(id).orElseThrow(() -> new NotFoundException("job", id));
        Map<String, Object> out = summary(job);
        out.put("spec", JSON.readTree(job.specJson()));
        out.put("events", store.events(id).stream().map(e -> Map.of("at", e.at(), "message", e.message())).toList());
        if (job.resultDir() != null) {
            Path report = Path.of(job.resultDir()).resolve("report.json");
            try {
                out.put("report", JSON.readTree(Files.readString(report)));
            } catch (IOException e) {
                out.put("report", "unreadable: " + e.getMessage());
            }
        }
        return out;
    }

    @GetMapping("/jobs/{id}/rounds")
    public List<Map<String, Object>> rounds(@PathVariable String id) {
        store.job(id).orElseThrow(() -> new NotFoundException("job", id));
        Map<String, String> names = new LinkedHashMap<>();
        store.agents().forEach(a -> names.put(a.id(), a.name()));
        // A retried round shows the tasks of its current attempt; earlier attempts are in the events and the report.
        return store.rounds(id).stream().map(r -> round(r, store.tasks(id, r.roundIndex()).stream()
                .filter(t -> t.attempt() == r.attempt()).toList(), names)).toList();
    }

    @PostMapping("/jobs/{id}/cancel")
    public Map<String, Object> cancel(@PathVariable String id, Authentication authentication) {
        String operator = SecurityController.who(authentication).username();
        // The job's end, who ended it and the audit entry are one commit, before the answer.
        store.inTransaction(() -> {
            node.engine().cancel(id);
            store.addEvent(id, System.currentTimeMillis(), "cancelled by " + operator);
            node.audit().success(AuditLog.JOB_CANCELLED, operator, id, null);
        });
        return job(id);
    }

    @GetMapping("/agents")
    public List<Map<String, Object>> agents() {
        return store.agents().stream().map(this::agent).toList();
    }

    private Map<String, Object> agent(AgentRecord a) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("id", a.id());
        out.put("name", a.name());
        out.put("site", a.site());
        out.put("state", "REVOKED".equals(a.state()) || node.agents().isOnline(a) ? a.state() : "OFFLINE");
        out.put("lastHeartbeatAt", a.lastHeartbeatAt());
        out.put("currentTaskId", a.currentTaskId());
        out.put("resources", a.resources() == null ? null : JSON.readTree(a.resources()));
        return out;
    }

    private static Map<String, Object> summary(JobRecord j) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("id", j.id());
        out.put("name", j.name());
        out.put("state", j.state());
        out.put("currentRound", j.currentRound());
        out.put("totalRounds", j.totalRounds());
        out.put("failureReason", j.failureReason());
        out.put("resultDir", j.resultDir());
        out.put("createdAt", j.createdAt());
        out.put("updatedAt", j.updatedAt());
        return out;
    }

    private Map<String, Object> round(RoundRecord r, List<TaskRecord> tasks, Map<String, String> names) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("round", r.roundIndex());
        out.put("state", r.state());
        out.put("attempt", r.attempt());
        out.put("openedAt", r.openedAt());
        out.put("deadlineAt", r.deadlineAt());
        out.put("closedAt", r.closedAt());
        out.put("selectedAgents", r.selectedAgents());
        out.put("quorum", r.quorum());
        out.put("folded", tasks.stream().filter(t -> t.state().equals("FOLDED")).count());
        out.put("refused", tasks.stream().filter(t -> t.state().equals("REFUSED")).count());
        out.put("summary", r.summary() == null ? null : JSON.readTree(r.summary()));
        out.put("agents", tasks.stream().map(t -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("agent", names.getOrDefault(t.agentId(), t.agentId()));
            m.put("taskId", t.id());
            m.put("state", t.state());
            m.put("bytesUp", t.bytesUp());
            m.put("sampleCount", t.sampleCount());
            m.put("contributeMillis", t.pulledAt() != null && t.finishedAt() != null ? t.finishedAt() - t.pulledAt() : null);
            m.put("error", t.error());
            m.put("metrics", store.metrics(t.id()));
            return m;
        }).toList());
        return out;
    }
}

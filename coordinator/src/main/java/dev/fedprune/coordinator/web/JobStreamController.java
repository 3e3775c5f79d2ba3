package dev.fedprune.coordinator.web;

import dev.fedprune.coordinator.error.NotFoundException;
import dev.fedprune.coordinator.job.JobState;
import dev.fedprune.coordinator.node.CoordinatorNode;
import dev.fedprune.coordinator.store.Records.JobRecord;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.springframework.core.io.FileSystemResource;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.servlet.mvc.method.annotation.SseEmitter;
import tools.jackson.databind.json.JsonMapper;

/**
 * Live job state for the dashboard as server-sent events (a snapshot whenever it changes), and the
 * download of a completed job's artifacts.
 */
@RestController
@RequestMapping("/api/jobs")
public class JobStreamController {
    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final long POLL_MILLIS = 300;

    private final CoordinatorNode node;
    private final JobController jobs;
    private final ScheduledExecutorService poller = Executors.newScheduledThreadPool(1, r -> {
        Thread t = new Thread(r, "job-stream");
        t.setDaemon(true);
        return t;
    });

    public JobStreamController(CoordinatorNode node, JobController jobs) {
        this.node = node;
        this.jobs = jobs;
    }

    /** Sends {@code snapshot} events (job, rounds, agents) until the job reaches a final state. */
    @GetMapping(path = "/{id}/stream", produces = MediaType.TEXT_EVENT_STREAM_VALUE)
    public SseEmitter stream(@PathVariable String id) {
        node.store().job(id).orElseThrow(() -> new NotFoundException("job", id));
        SseEmitter emitter = new SseEmitter(0L);
        AtomicReference<String> last = new AtomicReference<>("");
        AtomicReference<ScheduledFuture<?>> task = new AtomicReference<>();
        Runnable push = () -> {
            try {
                // Read the state first: if it is final, the snapshot built after it shows the final state too.
                boolean finished = JobState.valueOf(node.store().job(id).orElseThrow().state()).isFinal();
                Map<String, Object> snapshot = new LinkedHashMap<>();
                snapshot.put("job", jobs.job(id));
                snapshot.put("rounds", jobs.rounds(id));
                snapshot.put("agents", jobs.agents());
                snapshot.put("serverTime", System.currentTimeMillis());
                String json = JSON.writeValueAsString(snapshot);
                String withoutClock = json.substring(0, json.lastIndexOf(",\"serverTime\""));
                if (!withoutClock.equals(last.getAndSet(withoutClock))) {
                    emitter.send(SseEmitter.event().name("snapshot").data(json, MediaType.APPLICATION_JSON));
                }
                if (finished) {
                    emitter.complete();
                    cancel(task);
                }
            } catch (IOException | RuntimeException e) {
                emitter.completeWithError(e);
                cancel(task);
            }
        };
        task.set(poller.scheduleWithFixedDelay(push, 0, POLL_MILLIS, TimeUnit.MILLISECONDS));
        emitter.onCompletion(() -> cancel(task));
        emitter.onTimeout(() -> cancel(task));
        emitter.onError(e -> cancel(task));
        return emitter;
    }

    private static void cancel(AtomicReference<ScheduledFuture<?>> task) {
        ScheduledFuture<?> f = task.get();
        if (f != null) {
            f.cancel(false);
        }
    }

    /** The files of a completed job's result, by path relative to the result directory. */
    @GetMapping("/{id}/artifacts")
    public java.util.List<Map<String, Object>> artifacts(@PathVariable String id) throws IOException {
        JobRecord job = node.store().job(id).orElseThrow(() -> new NotFoundException("job", id));
        if (job.resultDir() == null) {
            throw new NotFoundException("result of job " + id + " (state " + job.state() + ")", id);
        }
        Path root = Path.of(job.resultDir());
        try (var walk = Files.walk(root)) {
            return walk.filter(Files::isRegularFile).sorted().map(p -> {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("path", root.relativize(p).toString().replace('\\', '/'));
                try {
                    m.put("sizeBytes", Files.size(p));
                } catch (IOException e) {
                    m.put("sizeBytes", -1);
                }
                return m;
            }).toList();
        }
    }

    /** A file of a completed job's result: {@code report.json}, {@code global-mask.safetensors}, {@code model/...}. */
    @GetMapping("/{id}/artifacts/**")
    public ResponseEntity<FileSystemResource> artifact(@PathVariable String id, jakarta.servlet.http.HttpServletRequest request) {
        JobRecord job = node.store().job(id).orElseThrow(() -> new NotFoundException("job", id));
        String prefix = "/api/jobs/" + id + "/artifacts/";
        String name = request.getRequestURI().substring(request.getRequestURI().indexOf(prefix) + prefix.length());
        if (job.resultDir() == null) {
            throw new NotFoundException("artifact of job " + id + " (the job has no result yet)", name);
        }
        Path root = Path.of(job.resultDir()).toAbsolutePath().normalize();
        Path file = root.resolve(name).normalize();
        if (!file.startsWith(root) || !Files.isRegularFile(file)) {
            throw new NotFoundException("artifact of job " + id, name);
        }
        return ResponseEntity.ok()
                .header(HttpHeaders.CONTENT_DISPOSITION, "attachment; filename=\"" + file.getFileName() + "\"")
                .contentType(MediaType.APPLICATION_OCTET_STREAM)
                .body(new FileSystemResource(file));
    }
}

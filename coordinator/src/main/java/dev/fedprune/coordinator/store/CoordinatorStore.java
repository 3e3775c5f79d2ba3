package dev.fedprune.coordinator.store;

import dev.fedprune.coordinator.store.Records.AgentRecord;
import dev.fedprune.coordinator.store.Records.JobEvent;
import dev.fedprune.coordinator.store.Records.JobRecord;
import dev.fedprune.coordinator.store.Records.RoundRecord;
import dev.fedprune.coordinator.store.Records.TaskRecord;
import dev.fedprune.coordinator.store.Records.UploadRecord;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * Durable state of the coordinator: agents, jobs, rounds, tasks, uploads, metrics and job events.
 * Works on any {@link DataSource} migrated by {@link Database} (H2 by default, PostgreSQL by
 * configuration), without Spring.
 */
public final class CoordinatorStore {
    private final Jdbc jdbc;

    public CoordinatorStore(DataSource dataSource) {
        this.jdbc = new Jdbc(dataSource);
    }

    /**
     * Runs {@code work} as one transaction: the writes that belong together (a contribution folded
     * and its event, a round opened with its tasks) are all on disk or none is. Nested calls join.
     */
    public <T> T inTransaction(java.util.function.Supplier<T> work) {
        return jdbc.inTransaction(work);
    }

    public void inTransaction(Runnable work) {
        jdbc.inTransaction(work);
    }

    // ------------------------------------------------------------------ agents

    public void insertAgent(AgentRecord a) {
        jdbc.update("insert into agents (id, name, site, secret_sha256, resources, enrolled_at, last_heartbeat_at, state, current_task_id) values (?,?,?,?,?,?,?,?,?)",
                a.id(), a.name(), a.site(), a.secretSha256(), a.resources(), a.enrolledAt(), a.lastHeartbeatAt(), a.state(), a.currentTaskId());
    }

    public Optional<AgentRecord> agent(String id) {
        return jdbc.queryOne("select * from agents where id = ?", CoordinatorStore::agentRow, id);
    }

    public List<AgentRecord> agents() {
        return jdbc.query("select * from agents order by name, id", CoordinatorStore::agentRow);
    }

    public void heartbeat(String agentId, long at, String state, String currentTaskId, String resources) {
        jdbc.update("update agents set last_heartbeat_at = ?, state = ?, current_task_id = ?, resources = coalesce(?, resources) where id = ?",
                at, state, currentTaskId, resources, agentId);
    }

    private static AgentRecord agentRow(ResultSet rs) throws SQLException {
        return new AgentRecord(rs.getString("id"), rs.getString("name"), rs.getString("site"), rs.getString("secret_sha256"),
                rs.getString("resources"), rs.getLong("enrolled_at"), rs.getLong("last_heartbeat_at"), rs.getString("state"),
                rs.getString("current_task_id"));
    }

    // ------------------------------------------------------------------ jobs

    public void insertJob(JobRecord j) {
        jdbc.update("insert into jobs (id, name, spec, state, current_round, total_rounds, failure_reason, result_dir, created_at, updated_at) values (?,?,?,?,?,?,?,?,?,?)",
                j.id(), j.name(), j.specJson(), j.state(), j.currentRound(), j.totalRounds(), j.failureReason(), j.resultDir(), j.createdAt(), j.updatedAt());
    }

    public Optional<JobRecord> job(String id) {
        return jdbc.queryOne("select * from jobs where id = ?", CoordinatorStore::jobRow, id);
    }

    public List<JobRecord> jobs() {
        return jdbc.query("select * from jobs order by created_at, id", CoordinatorStore::jobRow);
    }

    public void updateJob(String id, String state, int currentRound, String failureReason, String resultDir, long at) {
        jdbc.update("update jobs set state = ?, current_round = ?, failure_reason = ?, result_dir = ?, updated_at = ? where id = ?",
                state, currentRound, failureReason, resultDir, at, id);
    }

    public void setTotalRounds(String id, int totalRounds) {
        jdbc.update("update jobs set total_rounds = ? where id = ?", totalRounds, id);
    }

    private static JobRecord jobRow(ResultSet rs) throws SQLException {
        return new JobRecord(rs.getString("id"), rs.getString("name"), rs.getString("spec"), rs.getString("state"),
                rs.getInt("current_round"), rs.getInt("total_rounds"), rs.getString("failure_reason"), rs.getString("result_dir"),
                rs.getLong("created_at"), rs.getLong("updated_at"));
    }

    public void addEvent(String jobId, long at, String message) {
        jdbc.update("insert into job_events (job_id, at, message) values (?,?,?)", jobId, at, message);
    }

    public List<JobEvent> events(String jobId) {
        return jdbc.query("select at, message from job_events where job_id = ? order by id", rs -> new JobEvent(rs.getLong(1), rs.getString(2)), jobId);
    }

    // ------------------------------------------------------------------ rounds

    public void insertRound(RoundRecord r) {
        jdbc.update("insert into rounds (job_id, round_index, state, opened_at, deadline_at, closed_at, selected_agents, quorum, folded, refused, summary, attempt) values (?,?,?,?,?,?,?,?,?,?,?,?)",
                r.jobId(), r.roundIndex(), r.state(), r.openedAt(), r.deadlineAt(), r.closedAt(), r.selectedAgents(), r.quorum(), r.folded(), r.refused(), r.summary(), r.attempt());
    }

    public Optional<RoundRecord> round(String jobId, int roundIndex) {
        return jdbc.queryOne("select * from rounds where job_id = ? and round_index = ?", CoordinatorStore::roundRow, jobId, roundIndex);
    }

    public List<RoundRecord> rounds(String jobId) {
        return jdbc.query("select * from rounds where job_id = ? order by round_index", CoordinatorStore::roundRow, jobId);
    }

    public void updateRound(String jobId, int roundIndex, String state, Long closedAt, int folded, int refused, String summary) {
        jdbc.update("update rounds set state = ?, closed_at = ?, folded = ?, refused = ?, summary = ? where job_id = ? and round_index = ?",
                state, closedAt, folded, refused, summary, jobId, roundIndex);
    }

    /** Opens the round again for a new attempt (after a missed quorum): new times, selection size and attempt, nothing counted yet. */
    public void reopenRound(String jobId, int roundIndex, int attempt, long openedAt, long deadlineAt, int selectedAgents) {
        jdbc.update("update rounds set state = 'OPEN', attempt = ?, opened_at = ?, deadline_at = ?, closed_at = null, selected_agents = ?, folded = 0, refused = 0, summary = null where job_id = ? and round_index = ?",
                attempt, openedAt, deadlineAt, selectedAgents, jobId, roundIndex);
    }

    private static RoundRecord roundRow(ResultSet rs) throws SQLException {
        long closed = rs.getLong("closed_at");
        Long closedAt = rs.wasNull() ? null : closed;
        return new RoundRecord(rs.getString("job_id"), rs.getInt("round_index"), rs.getString("state"), rs.getLong("opened_at"),
                rs.getLong("deadline_at"), closedAt, rs.getInt("selected_agents"), rs.getInt("quorum"), rs.getInt("folded"),
                rs.getInt("refused"), rs.getString("summary"), rs.getInt("attempt"));
    }

    // ------------------------------------------------------------------ tasks

    public void insertTask(TaskRecord t) {
        jdbc.update("insert into tasks (id, job_id, round_index, agent_id, kind, state, assigned_at, pulled_at, finished_at, bytes_up, payload_sha256, sample_count, error, attempt) values (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                t.id(), t.jobId(), t.roundIndex(), t.agentId(), t.kind(), t.state(), t.assignedAt(), t.pulledAt(), t.finishedAt(), t.bytesUp(),
                t.payloadSha256(), t.sampleCount(), t.error(), t.attempt());
    }

    public Optional<TaskRecord> task(String id) {
        return jdbc.queryOne("select * from tasks where id = ?", CoordinatorStore::taskRow, id);
    }

    public List<TaskRecord> tasks(String jobId, int roundIndex) {
        return jdbc.query("select * from tasks where job_id = ? and round_index = ? order by assigned_at, id", CoordinatorStore::taskRow, jobId, roundIndex);
    }

    public List<TaskRecord> tasksOfJob(String jobId) {
        return jdbc.query("select * from tasks where job_id = ? order by round_index, assigned_at, id", CoordinatorStore::taskRow, jobId);
    }

    /** The oldest task of an agent in one of the given states, across jobs. */
    public Optional<TaskRecord> openTaskOf(String agentId) {
        return jdbc.queryOne("select * from tasks where agent_id = ? and state in ('ASSIGNED', 'PULLED') order by assigned_at, id",
                CoordinatorStore::taskRow, agentId);
    }

    public void markTaskPulled(String taskId, long at) {
        jdbc.update("update tasks set state = 'PULLED', pulled_at = coalesce(pulled_at, ?) where id = ? and state in ('ASSIGNED', 'PULLED')", at, taskId);
    }

    public void finishTask(String taskId, String state, long at, long bytesUp, String payloadSha256, Long sampleCount, String error) {
        jdbc.update("update tasks set state = ?, finished_at = ?, bytes_up = ?, payload_sha256 = ?, sample_count = ?, error = ? where id = ?",
                state, at, bytesUp, payloadSha256, sampleCount, error, taskId);
    }

    /**
     * Hands a finished task back to its agent as if it had never answered (its stored contribution was
     * found corrupt): assigned again, no payload, the reason kept; its uploads are forgotten so that the
     * agent's upload of the same bytes under the same upload id is taken afresh.
     */
    public void reissueTask(String taskId, String reason) {
        jdbc.inTransaction(() -> {
            jdbc.update("update tasks set state = 'ASSIGNED', finished_at = null, bytes_up = 0, payload_sha256 = null, sample_count = null, error = ? where id = ?",
                    reason, taskId);
            jdbc.update("delete from uploads where task_id = ?", taskId);
        });
    }

    /** Every task of the job still open, in any round, expires (the job failed or was cancelled). */
    public void expireOpenTasksOfJob(String jobId, long at, String reason) {
        jdbc.update("update tasks set state = 'EXPIRED', finished_at = ?, error = ? where job_id = ? and state in ('ASSIGNED', 'PULLED')",
                at, reason, jobId);
    }

    public void expireOpenTasks(String jobId, int roundIndex, long at, String reason) {
        jdbc.update("update tasks set state = 'EXPIRED', finished_at = ?, error = ? where job_id = ? and round_index = ? and state in ('ASSIGNED', 'PULLED')",
                at, reason, jobId, roundIndex);
    }

    private static TaskRecord taskRow(ResultSet rs) throws SQLException {
        return new TaskRecord(rs.getString("id"), rs.getString("job_id"), rs.getInt("round_index"), rs.getString("agent_id"),
                rs.getString("kind"), rs.getString("state"), rs.getLong("assigned_at"), nullableLong(rs, "pulled_at"),
                nullableLong(rs, "finished_at"), rs.getLong("bytes_up"), rs.getString("payload_sha256"),
                nullableLong(rs, "sample_count"), rs.getString("error"), rs.getInt("attempt"));
    }

    private static Long nullableLong(ResultSet rs, String column) throws SQLException {
        long v = rs.getLong(column);
        return rs.wasNull() ? null : v;
    }

    // ------------------------------------------------------------------ uploads and metrics

    public Optional<UploadRecord> upload(String id) {
        return jdbc.queryOne("select * from uploads where id = ?", rs -> new UploadRecord(rs.getString("id"), rs.getString("task_id"),
                rs.getString("agent_id"), rs.getLong("committed_bytes"), rs.getLong("total_bytes"), rs.getString("state")), id);
    }

    public void saveUpload(UploadRecord u, long at) {
        jdbc.inTransaction(() -> {
            if (jdbc.update("update uploads set committed_bytes = ?, state = ?, updated_at = ? where id = ?", u.committedBytes(), u.state(), at, u.id()) == 0) {
                jdbc.update("insert into uploads (id, task_id, agent_id, committed_bytes, total_bytes, state, updated_at) values (?,?,?,?,?,?,?)",
                        u.id(), u.taskId(), u.agentId(), u.committedBytes(), u.totalBytes(), u.state(), at);
            }
        });
    }

    public void saveMetrics(String taskId, Map<String, Double> values, long at) {
        jdbc.inTransaction(() -> values.forEach((name, value) -> {
            if (jdbc.update("update task_metrics set metric = ?, reported_at = ? where task_id = ? and name = ?", value, at, taskId, name) == 0) {
                jdbc.update("insert into task_metrics (task_id, name, metric, reported_at) values (?,?,?,?)", taskId, name, value, at);
            }
        }));
    }

    public Map<String, Double> metrics(String taskId) {
        Map<String, Double> out = new java.util.TreeMap<>();
        jdbc.query("select name, metric from task_metrics where task_id = ?", rs -> out.put(rs.getString(1), rs.getDouble(2)), taskId);
        return out;
    }

    // ------------------------------------------------------------------ totals for metrics

    /** Number of tasks per state, over all jobs (FOLDED, REFUSED, EXPIRED, FAILED only ever grow). */
    public Map<String, Long> taskCountsByState() {
        Map<String, Long> out = new java.util.TreeMap<>();
        jdbc.query("select state, count(*) from tasks group by state", rs -> out.put(rs.getString(1), rs.getLong(2)));
        return out;
    }

    /** Refused tasks per reason: the refusal message up to its first colon (the field at fault). */
    public Map<String, Long> refusalsByReason() {
        Map<String, Long> out = new java.util.TreeMap<>();
        jdbc.query("select error from tasks where state = 'REFUSED'", rs -> {
            String e = rs.getString(1) == null ? "unknown" : rs.getString(1);
            int colon = e.indexOf(':');
            out.merge(colon > 0 ? e.substring(0, colon) : e, 1L, Long::sum);
            return null;
        });
        return out;
    }

    public long roundCount(String state) {
        return jdbc.queryOne(state == null ? "select count(*) from rounds" : "select count(*) from rounds where state = ?",
                rs -> rs.getLong(1), state == null ? new Object[0] : new Object[] {state}).orElse(0L);
    }

    public long totalBytesUp() {
        return jdbc.queryOne("select coalesce(sum(bytes_up), 0) from tasks where state = 'FOLDED'", rs -> rs.getLong(1)).orElse(0L);
    }

    /** Sum of one agent-reported metric over all tasks. */
    public double metricTotal(String name) {
        return jdbc.queryOne("select coalesce(sum(metric), 0) from task_metrics where name = ?", rs -> rs.getDouble(1), name).orElse(0.0);
    }
}

package dev.fedprune.coordinator.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The operator's command line, talking to a coordinator's REST API:
 * {@code fedprune jobs submit|list|watch|cancel}, {@code fedprune agents list},
 * {@code fedprune artifacts get}. Runs from the coordinator jar: {@code java -jar coordinator.jar jobs list}.
 */
@Command(name = "fedprune", mixinStandardHelpOptions = true, version = "FedPrune operator CLI 0.1.0",
        description = "Operate a FedPrune coordinator through its REST API.",
        subcommands = {OperatorCli.Jobs.class, OperatorCli.Agents.class, OperatorCli.Artifacts.class, SecurityCommands.class})
public final class OperatorCli {
    static final Set<String> COMMANDS = Set.of("jobs", "agents", "artifacts", "security");
    private static final JsonMapper JSON = JsonMapper.builder().build();

    @Option(names = "--url", defaultValue = "${env:FEDPRUNE_URL:-http://localhost:8080}", description = "Coordinator base URL (env FEDPRUNE_URL; default ${DEFAULT-VALUE}).")
    String url;

    @Option(names = "--token", defaultValue = "${env:FEDPRUNE_TOKEN}", description = "Operator API token (env FEDPRUNE_TOKEN).")
    String token;

    PrintStream out = System.out;
    PrintStream err = System.err;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    /** True when the arguments name a CLI command rather than start the coordinator. */
    public static boolean handles(String[] args) {
        return args.length > 0 && (COMMANDS.contains(args[0]) || args[0].equals("--url") || args[0].equals("--token"));
    }

    public static int run(PrintStream out, PrintStream err, String... args) {
        OperatorCli cli = new OperatorCli();
        cli.out = out;
        cli.err = err;
        return new CommandLine(cli).setOut(new java.io.PrintWriter(out, true)).setErr(new java.io.PrintWriter(err, true)).execute(args);
    }

    HttpRequest.Builder request(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url.replaceAll("/+$", "") + path)).timeout(Duration.ofMinutes(5));
        if (token != null && !token.isBlank()) {
            b.header("Authorization", "Bearer " + token);
        }
        return b;
    }

    /** Sends a request; on an HTTP error prints the API's message and returns null. */
    JsonNode call(HttpRequest request) throws IOException, InterruptedException {
        HttpResponse<String> r;
        try {
            r = http.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (java.net.ConnectException e) {
            err.println("cannot reach the coordinator at " + url + " (" + e.getMessage() + "); set --url or FEDPRUNE_URL");
            return null;
        }
        if (r.statusCode() >= 400) {
            String message = r.body();
            try {
                JsonNode body = JSON.readTree(r.body());
                message = (body.has("field") ? body.get("field").asString() + ": " : "") + body.path("message").asString(r.body());
                if (body.has("field") && message.startsWith(body.get("field").asString() + ": " + body.get("field").asString() + ": ")) {
                    message = message.substring(body.get("field").asString().length() + 2);
                }
            } catch (RuntimeException ignored) {
                // not JSON: print the body as it is
            }
            err.println("HTTP " + r.statusCode() + ": " + message);
            return null;
        }
        return r.body().isEmpty() ? JSON.createObjectNode() : JSON.readTree(r.body());
    }

    @Command(name = "jobs", description = "Submit, list, watch and cancel jobs.",
            subcommands = {Submit.class, ListJobs.class, Watch.class, Cancel.class})
    static final class Jobs {
        @ParentCommand
        OperatorCli cli;
    }

    @Command(name = "submit", description = "Submit a job spec (YAML or JSON).")
    static final class Submit implements Callable<Integer> {
        @ParentCommand
        Jobs jobs;

        @Parameters(paramLabel = "FILE")
        Path file;

        @Override
        public Integer call() throws Exception {
            OperatorCli cli = jobs.cli;
            if (!Files.isRegularFile(file)) {
                cli.err.println(file + ": no such file");
                return 2;
            }
            JsonNode job = cli.call(cli.request("/api/jobs").header("Content-Type", "application/yaml")
                    .POST(HttpRequest.BodyPublishers.ofString(Files.readString(file))).build());
            if (job == null) {
                return 2;
            }
            cli.out.println(job.get("id").asString());
            return 0;
        }
    }

    @Command(name = "list", description = "List jobs.")
    static final class ListJobs implements Callable<Integer> {
        @ParentCommand
        Jobs jobs;

        @Override
        public Integer call() throws Exception {
            OperatorCli cli = jobs.cli;
            JsonNode list = cli.call(cli.request("/api/jobs").GET().build());
            if (list == null) {
                return 1;
            }
            cli.out.printf("%-14s %-20s %-20s %s%n", "ID", "NAME", "STATE", "ROUNDS");
            for (JsonNode j : list) {
                cli.out.printf("%-14s %-20s %-20s %d/%d%n", j.get("id").asString(), j.get("name").asString(), j.get("state").asString(),
                        j.get("state").asString().equals("COMPLETED") ? j.get("totalRounds").asInt() : j.get("currentRound").asInt(),
                        j.get("totalRounds").asInt());
            }
            return 0;
        }
    }

    @Command(name = "watch", description = "Follow a job live: a progress bar per round, until it ends.")
    static final class Watch implements Callable<Integer> {
        @ParentCommand
        Jobs jobs;

        @Parameters(paramLabel = "ID")
        String id;

        @Override
        public Integer call() throws Exception {
            OperatorCli cli = jobs.cli;
            HttpResponse<java.util.stream.Stream<String>> r = cli.http.send(cli.request("/api/jobs/" + id + "/stream")
                    .header("Accept", "text/event-stream").GET().build(), HttpResponse.BodyHandlers.ofLines());
            if (r.statusCode() >= 400) {
                cli.err.println("HTTP " + r.statusCode() + ": job " + id + " not found or not readable");
                return 2;
            }
            String state = "?";
            String lastLine = "";
            java.util.Set<Integer> qualityShown = new java.util.HashSet<>();
            JsonNode lastJob = null;
            Iterator<String> lines = r.body().iterator();
            while (lines.hasNext()) {
                String line = lines.next();
                if (!line.startsWith("data:")) {
                    continue;
                }
                JsonNode snapshot = JSON.readTree(line.substring(5));
                JsonNode job = snapshot.get("job");
                lastJob = job;
                state = job.get("state").asString();
                JsonNode rounds = snapshot.get("rounds");
                String text = progress(job, rounds, snapshot.get("serverTime").asLong());
                if (!text.equals(lastLine)) {
                    cli.out.println(text);
                    lastLine = text;
                }
                for (JsonNode round : rounds) {
                    JsonNode q = round.path("summary").path("quality");
                    if (!q.isMissingNode() && !q.isNull() && qualityShown.add(round.get("round").asInt())) {
                        cli.out.println(String.format(Locale.ROOT, "  %s of the global model %s: %.4f (%d agents, %d samples)",
                                q.get("metric").asString(), q.get("modelAfterRounds").asInt() == 0 ? "at the start"
                                        : "after round " + q.get("modelAfterRounds").asInt(),
                                q.get("value").asDouble(), q.get("agents").asInt(), q.get("samples").asLong()));
                    }
                }
            }
            cli.out.println("job " + id + ": " + state);
            JsonNode report = lastJob == null ? null : lastJob.get("report");
            if (report != null && report.has("layerSparsity")) {
                cli.out.println(String.format(Locale.ROOT, "overall sparsity %.4f; per layer:", report.get("overallSparsity").asDouble()));
                report.get("layerSparsity").properties().forEach(e ->
                        cli.out.println(String.format(Locale.ROOT, "  %-10s %.4f", e.getKey(), e.getValue().asDouble())));
            }
            return state.equals("COMPLETED") ? 0 : 1;
        }

        static String progress(JsonNode job, JsonNode rounds, long now) {
            if (rounds.isEmpty()) {
                return String.format(Locale.ROOT, "%s: %s", job.get("id").asString(), job.get("state").asString());
            }
            JsonNode r = rounds.get(rounds.size() - 1);
            int selected = r.get("selectedAgents").asInt();
            long folded = r.get("folded").asLong();
            int width = 30;
            int filled = selected == 0 ? 0 : (int) (width * folded / selected);
            String bar = "#".repeat(filled) + ".".repeat(width - filled);
            String deadline = r.get("state").asString().equals("OPEN")
                    ? String.format(Locale.ROOT, ", deadline in %d s", Math.max(0, (r.get("deadlineAt").asLong() - now) / 1000)) : "";
            return String.format(Locale.ROOT, "round %d/%d [%s] %d/%d folded (quorum %d), %d refused, %s%s",
                    r.get("round").asInt() + 1, Math.max(job.get("totalRounds").asInt(), 1), bar, folded, selected, r.get("quorum").asInt(),
                    r.get("refused").asLong(), r.get("state").asString(), deadline);
        }
    }

    @Command(name = "cancel", description = "Cancel a running job.")
    static final class Cancel implements Callable<Integer> {
        @ParentCommand
        Jobs jobs;

        @Parameters(paramLabel = "ID")
        String id;

        @Override
        public Integer call() throws Exception {
            OperatorCli cli = jobs.cli;
            JsonNode job = cli.call(cli.request("/api/jobs/" + id + "/cancel").POST(HttpRequest.BodyPublishers.noBody()).build());
            if (job == null) {
                return 2;
            }
            cli.out.println(job.get("id").asString() + ": " + job.get("state").asString());
            return 0;
        }
    }

    @Command(name = "agents", description = "Agents of the federation.", subcommands = {ListAgents.class})
    static final class Agents {
        @ParentCommand
        OperatorCli cli;
    }

    @Command(name = "list", description = "List agents.")
    static final class ListAgents implements Callable<Integer> {
        @ParentCommand
        Agents agents;

        @Override
        public Integer call() throws Exception {
            OperatorCli cli = agents.cli;
            JsonNode list = cli.call(cli.request("/api/agents").GET().build());
            if (list == null) {
                return 1;
            }
            cli.out.printf("%-20s %-16s %-10s %s%n", "NAME", "SITE", "STATE", "LAST HEARTBEAT");
            for (JsonNode a : list) {
                cli.out.printf("%-20s %-16s %-10s %s%n", a.get("name").asString(), a.path("site").asString(""), a.get("state").asString(),
                        java.time.Instant.ofEpochMilli(a.get("lastHeartbeatAt").asLong()));
            }
            return 0;
        }
    }

    @Command(name = "artifacts", description = "Results of completed jobs.", subcommands = {GetArtifacts.class})
    static final class Artifacts {
        @ParentCommand
        OperatorCli cli;
    }

    @Command(name = "get", description = "Download a completed job's result (pruned model, global mask, report).")
    static final class GetArtifacts implements Callable<Integer> {
        @ParentCommand
        Artifacts artifacts;

        @Parameters(paramLabel = "ID")
        String id;

        @Option(names = "--out", required = true, paramLabel = "DIR")
        Path out;

        @Override
        public Integer call() throws Exception {
            OperatorCli cli = artifacts.cli;
            JsonNode files = cli.call(cli.request("/api/jobs/" + id + "/artifacts").GET().build());
            if (files == null) {
                return 2;
            }
            for (JsonNode f : files) {
                String name = f.get("path").asString();
                Path target = out.resolve(name).normalize();
                if (!target.startsWith(out.normalize())) {
                    cli.err.println("refusing artifact path " + name);
                    return 2;
                }
                Files.createDirectories(target.getParent());
                HttpResponse<Path> r = cli.http.send(cli.request("/api/jobs/" + id + "/artifacts/" + name).GET().build(),
                        HttpResponse.BodyHandlers.ofFile(target));
                if (r.statusCode() >= 400) {
                    cli.err.println("HTTP " + r.statusCode() + " for " + name);
                    return 2;
                }
                cli.out.printf("%s (%d bytes)%n", target, Files.size(target));
            }
            return 0;
        }
    }
}

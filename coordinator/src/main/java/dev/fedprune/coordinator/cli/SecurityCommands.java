package dev.fedprune.coordinator.cli;

import java.net.http.HttpRequest;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * {@code fedprune security ...}: the coordinator's CA fingerprint, one-time enrollment tokens,
 * agent revocation and the audit log, over the REST API with the operator's API token.
 */
@Command(name = "security", description = "CA fingerprint, enrollment tokens, agent revocation, audit log.",
        subcommands = {SecurityCommands.Ca.class, SecurityCommands.Token.class, SecurityCommands.Revoke.class, SecurityCommands.Audit.class})
final class SecurityCommands {
    private static final tools.jackson.databind.json.JsonMapper JSON = tools.jackson.databind.json.JsonMapper.builder().build();

    @ParentCommand
    OperatorCli cli;

    @Command(name = "ca", description = "Print the CA fingerprint that agents pin with `enroll --ca-fingerprint`.")
    static final class Ca implements Callable<Integer> {
        @ParentCommand
        SecurityCommands security;

        @Override
        public Integer call() throws Exception {
            OperatorCli cli = security.cli;
            JsonNode ca = cli.call(cli.request("/api/security/ca").GET().build());
            if (ca == null) {
                return 1;
            }
            cli.out.println(ca.get("fingerprint").asString());
            return 0;
        }
    }

    @Command(name = "token", description = "Mint a one-time enrollment token for a new agent (role operator).")
    static final class Token implements Callable<Integer> {
        @ParentCommand
        SecurityCommands security;

        @Option(names = "--site", paramLabel = "SITE", description = "Site the agent will belong to (optional).")
        String site;

        @Option(names = "--ttl-minutes", paramLabel = "N", defaultValue = "1440", description = "Minutes until the token expires (default ${DEFAULT-VALUE}).")
        long ttlMinutes;

        @Override
        public Integer call() throws Exception {
            OperatorCli cli = security.cli;
            ObjectNode body = JSON.createObjectNode().put("ttlMinutes", ttlMinutes);
            if (site != null) {
                body.put("site", site);
            }
            JsonNode t = cli.call(cli.request("/api/enrollment-tokens").header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body))).build());
            if (t == null) {
                return 2;
            }
            cli.out.println(t.get("token").asString());
            cli.err.println("token " + t.get("id").asString() + " expires at " + java.time.Instant.ofEpochMilli(t.get("expiresAt").asLong())
                    + "; on the agent run:\n  " + t.get("enrollCommand").asString());
            return 0;
        }
    }

    @Command(name = "revoke", description = "Revoke an agent: its next call is refused, whatever certificate it holds.")
    static final class Revoke implements Callable<Integer> {
        @ParentCommand
        SecurityCommands security;

        @Parameters(paramLabel = "AGENT_ID")
        String agentId;

        @Option(names = "--reason", paramLabel = "TEXT", description = "Why, for the audit log.")
        String reason;

        @Override
        public Integer call() throws Exception {
            OperatorCli cli = security.cli;
            ObjectNode body = JSON.createObjectNode();
            if (reason != null) {
                body.put("reason", reason);
            }
            JsonNode r = cli.call(cli.request("/api/agents/" + agentId + "/revoke").header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body))).build());
            if (r == null) {
                return 2;
            }
            cli.out.println("revoked " + agentId);
            return 0;
        }
    }

    @Command(name = "audit", description = "List the newest audit entries (role admin).")
    static final class Audit implements Callable<Integer> {
        @ParentCommand
        SecurityCommands security;

        @Option(names = "--limit", defaultValue = "50", description = "How many entries (default ${DEFAULT-VALUE}).")
        int limit;

        @Option(names = "--event", description = "Only this event, e.g. contribution.refused.")
        String event;

        @Override
        public Integer call() throws Exception {
            OperatorCli cli = security.cli;
            String query = "/api/audit?limit=" + limit + (event == null ? "" : "&event=" + java.net.URLEncoder.encode(event, java.nio.charset.StandardCharsets.UTF_8));
            JsonNode list = cli.call(cli.request(query).GET().build());
            if (list == null) {
                return 1;
            }
            for (JsonNode e : list) {
                cli.out.printf("%s %-8s %-28s %-24s %s: %s%n", java.time.Instant.ofEpochMilli(e.get("at").asLong()), e.get("outcome").asString(),
                        e.get("event").asString(), e.path("actor").asString(""), e.path("subject").asString(""), e.path("detail").asString(""));
            }
            return 0;
        }
    }
}

package dev.fedprune.coordinator;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** What tests that run the coordinator or agents as their own processes need: free ports, and a log's last lines for a failure message. */
final class ChildProcesses {
    private ChildProcesses() {
    }

    /** A loopback port free right now, for a child process to listen on. */
    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** The last {@code lines} lines of a child's log, or why there are none. */
    static String tail(Path log, int lines) {
        try {
            List<String> all = Files.readAllLines(log);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }
}

package dev.fedprune.coordinator.web;

import dev.fedprune.coordinator.node.CoordinatorNode;
import dev.fedprune.coordinator.security.EnrollmentService;
import dev.fedprune.coordinator.security.OperatorAccounts;
import dev.fedprune.coordinator.security.OperatorAccounts.Principal;
import dev.fedprune.coordinator.security.OperatorRole;
import dev.fedprune.coordinator.store.SecurityStore;
import dev.fedprune.security.pki.Fingerprints;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.security.core.Authentication;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

/**
 * REST API for security operations: the CA fingerprint, enrollment tokens, agent revocation,
 * operators, API tokens and the audit log. Which role may call what is in {@link OperatorSecurity}.
 */
@RestController
@RequestMapping("/api")
public class SecurityController {
    /** Body of POST /api/enrollment-tokens. */
    public record MintRequest(String site, Long ttlMinutes) {
    }

    /** Body of POST /api/agents/{id}/revoke. */
    public record RevokeRequest(String reason) {
    }

    /** Body of POST /api/operators. */
    public record OperatorRequest(String username, String password, String role) {
    }

    /** Body of POST /api/api-tokens. */
    public record ApiTokenRequest(String name, String role, Long ttlDays) {
    }

    private final CoordinatorNode node;
    private final OperatorAccounts accounts;

    public SecurityController(CoordinatorNode node, OperatorAccounts accounts) {
        this.node = node;
        this.accounts = accounts;
    }

    static Principal who(Authentication authentication) {
        return (Principal) authentication.getPrincipal();
    }

    @GetMapping("/me")
    public Map<String, Object> me(Authentication authentication) {
        Principal p = who(authentication);
        return Map.of("username", p.username(), "role", p.role().name().toLowerCase(), "via", p.via());
    }

    /** What operators hand to sites with a token: the CA fingerprint that {@code enroll --ca-fingerprint} pins. */
    @GetMapping("/security/ca")
    public Map<String, Object> ca() {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("fingerprint", Fingerprints.display(node.pki().caFingerprint()));
        out.put("fingerprintSha256", node.pki().caFingerprint());
        out.put("certificatePem", node.pki().caCertificatePem());
        out.put("grpcPort", node.grpcPort());
        return out;
    }

    @PostMapping("/enrollment-tokens")
    public ResponseEntity<Map<String, Object>> mint(@RequestBody(required = false) MintRequest request, Authentication authentication) {
        MintRequest r = request == null ? new MintRequest(null, null) : request;
        long ttlMinutes = r.ttlMinutes() == null ? 24 * 60 : r.ttlMinutes();
        EnrollmentService.MintedToken t = node.enrollment().mintToken(r.site(), Duration.ofMinutes(ttlMinutes), who(authentication).username());
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("id", t.id());
        out.put("token", t.token());
        out.put("site", t.site());
        out.put("expiresAt", t.expiresAt());
        out.put("caFingerprint", Fingerprints.display(node.pki().caFingerprint()));
        // The token in the environment, not on the command line, where `ps` would show it to every user of the host.
        out.put("enrollCommand", "FEDPRUNE_ENROLLMENT_TOKEN=" + t.token() + " fedprune-agent enroll --coordinator HOST:" + node.grpcPort()
                + " --ca-fingerprint " + Fingerprints.display(node.pki().caFingerprint()));
        return ResponseEntity.status(HttpStatus.CREATED).body(out);
    }

    @GetMapping("/enrollment-tokens")
    public List<SecurityStore.EnrollmentToken> tokens() {
        return node.enrollment().tokens();
    }

    @PostMapping("/agents/{id}/revoke")
    public Map<String, Object> revoke(@PathVariable String id, @RequestBody(required = false) RevokeRequest request, Authentication authentication) {
        node.enrollment().revoke(id, request == null ? null : request.reason(), who(authentication).username());
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("id", id);
        out.put("revoked", true);
        return out;
    }

    @GetMapping("/audit")
    public List<SecurityStore.AuditEntry> audit(@RequestParam(defaultValue = "100") int limit, @RequestParam(required = false) String event) {
        return node.audit().entries(limit, event);
    }

    @GetMapping("/operators")
    public List<Map<String, Object>> operators() {
        return accounts.operators().stream().map(o -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("username", o.username());
            m.put("role", o.role().toLowerCase());
            m.put("createdAt", o.createdAt());
            m.put("disabledAt", o.disabledAt());
            return m;
        }).toList();
    }

    @PostMapping("/operators")
    public ResponseEntity<Map<String, Object>> createOperator(@RequestBody OperatorRequest request, Authentication authentication) {
        OperatorRole role = OperatorRole.parse(request.role() == null ? "viewer" : request.role(), "role");
        var o = accounts.createOperator(request.username(), request.password(), role, who(authentication).username());
        return ResponseEntity.status(HttpStatus.CREATED).body(Map.of("username", o.username(), "role", o.role().toLowerCase()));
    }

    @GetMapping("/api-tokens")
    public List<SecurityStore.ApiToken> apiTokens(Authentication authentication) {
        return accounts.apiTokens(who(authentication));
    }

    @PostMapping("/api-tokens")
    public ResponseEntity<Map<String, Object>> createApiToken(@RequestBody ApiTokenRequest request, Authentication authentication) {
        OperatorRole role = request.role() == null ? null : OperatorRole.parse(request.role(), "role");
        var t = accounts.createApiToken(who(authentication), request.name(), role, request.ttlDays() == null ? null : Duration.ofDays(request.ttlDays()));
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("id", t.id());
        out.put("token", t.token());
        out.put("name", t.name());
        out.put("role", t.role().name().toLowerCase());
        out.put("expiresAt", t.expiresAt());
        return ResponseEntity.status(HttpStatus.CREATED).body(out);
    }

    @DeleteMapping("/api-tokens/{id}")
    public ResponseEntity<Void> revokeApiToken(@PathVariable String id, Authentication authentication) {
        accounts.revokeApiToken(who(authentication), id);
        return ResponseEntity.noContent().build();
    }
}

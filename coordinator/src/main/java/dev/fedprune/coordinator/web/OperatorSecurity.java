package dev.fedprune.coordinator.web;

import dev.fedprune.coordinator.app.CoordinatorProperties;
import dev.fedprune.coordinator.node.CoordinatorNode;
import dev.fedprune.coordinator.security.OperatorAccounts;
import dev.fedprune.coordinator.security.OperatorAccounts.Principal;
import dev.fedprune.security.secret.Argon2idPasswordHasher;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.slf4j.LoggerFactory;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.http.HttpMethod;
import org.springframework.security.authentication.AuthenticationProvider;
import org.springframework.security.authentication.BadCredentialsException;
import org.springframework.security.authentication.UsernamePasswordAuthenticationToken;
import org.springframework.security.config.Customizer;
import org.springframework.security.config.annotation.web.builders.HttpSecurity;
import org.springframework.security.core.Authentication;
import org.springframework.security.core.authority.SimpleGrantedAuthority;
import org.springframework.security.core.context.SecurityContext;
import org.springframework.security.core.context.SecurityContextHolder;
import org.springframework.security.web.AuthenticationEntryPoint;
import org.springframework.security.web.SecurityFilterChain;
import org.springframework.security.web.access.AccessDeniedHandler;
import org.springframework.security.web.authentication.WebAuthenticationDetails;
import org.springframework.security.web.authentication.www.BasicAuthenticationFilter;
import org.springframework.security.web.servlet.util.matcher.PathPatternRequestMatcher;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * Spring Security for operators: every REST endpoint and page needs an operator, by HTTP Basic,
 * by form login (pages) or by a bearer API token (automation). Roles: viewer reads; operator also
 * submits and cancels jobs, mints enrollment tokens and revokes agents; admin also manages operators
 * and reads the audit log. Health, metrics and the OpenAPI description stay public.
 */
@Configuration
public class OperatorSecurity {
    private static final String[] PUBLIC = {"/actuator/health", "/actuator/health/**", "/actuator/info", "/actuator/prometheus",
            "/v3/api-docs", "/v3/api-docs/**", "/swagger-ui/**", "/swagger-ui.html", "/login", "/error"};

    @Bean
    OperatorAccounts operatorAccounts(CoordinatorNode node, CoordinatorProperties p) {
        OperatorAccounts accounts = new OperatorAccounts(node.securityStore(), node.audit(), System::currentTimeMillis, new Argon2idPasswordHasher());
        CoordinatorProperties.Admin admin = p.security().admin();
        accounts.bootstrap(admin.username(), admin.password(), admin.token());
        return accounts;
    }

    /** A bean, so that Spring Boot does not also create its default in-memory user with a generated password. */
    @Bean
    AuthenticationProvider operatorPasswordProvider(OperatorAccounts accounts) {
        return new PasswordProvider(accounts);
    }

    @Bean
    SecurityFilterChain operatorFilterChain(HttpSecurity http, OperatorAccounts accounts) throws Exception {
        // No WWW-Authenticate: Basic challenge, so browsers never cache Basic credentials (which cross-site requests would carry).
        AuthenticationEntryPoint api = (request, response, e) -> json(response, 401,
                "authentication required: HTTP Basic with an operator's user and password, or Authorization: Bearer <API token>");
        AccessDeniedHandler denied = (request, response, e) -> json(response, 403,
                "your role does not allow " + request.getMethod() + " " + request.getRequestURI());
        http
                // Spring's CSRF token would need the dashboard's scripts to echo it; the same-origin filter below protects
                // cookie sessions instead (Fetch Metadata), and token or Basic requests carry no ambient credentials.
                .csrf(c -> c.disable())
                .addFilterBefore(new BearerTokenFilter(accounts, api), BasicAuthenticationFilter.class)
                .addFilterBefore(new SameOriginFilter(), BearerTokenFilter.class)
                .httpBasic(b -> b.authenticationEntryPoint(api))
                .formLogin(Customizer.withDefaults())
                .logout(Customizer.withDefaults())
                .exceptionHandling(e -> e.defaultAuthenticationEntryPointFor(api, PathPatternRequestMatcher.withDefaults().matcher("/api/**"))
                        .accessDeniedHandler(denied))
                .authorizeHttpRequests(a -> a
                        // An async dispatch (the end of a server-sent event stream) or an error dispatch continues a request
                        // that was already authorized; the bearer filter does not run again for it.
                        .dispatcherTypeMatchers(DispatcherType.ASYNC, DispatcherType.ERROR).permitAll()
                        .requestMatchers(PUBLIC).permitAll()
                        .requestMatchers("/api/audit", "/api/audit/**", "/api/operators", "/api/operators/**").hasRole("ADMIN")
                        .requestMatchers("/api/enrollment-tokens", "/api/enrollment-tokens/**").hasRole("OPERATOR")
                        .requestMatchers("/api/api-tokens", "/api/api-tokens/**", "/api/me").hasRole("VIEWER")
                        .requestMatchers(HttpMethod.GET, "/api/**").hasRole("VIEWER")
                        .requestMatchers("/api/**").hasRole("OPERATOR")
                        .anyRequest().hasRole("VIEWER"));
        return http.build();
    }

    static Authentication authenticated(Principal p) {
        List<SimpleGrantedAuthority> authorities = p.role().granted().stream().map(r -> new SimpleGrantedAuthority("ROLE_" + r.name())).toList();
        return UsernamePasswordAuthenticationToken.authenticated(p, null, authorities);
    }

    static void json(HttpServletResponse response, int status, String message) throws IOException {
        response.setStatus(status);
        response.setContentType("application/json");
        response.setCharacterEncoding(StandardCharsets.UTF_8.name());
        String reason = status == 401 ? "Unauthorized" : "Forbidden";
        response.getWriter().write("{\"status\":" + status + ",\"error\":\"" + reason + "\",\"message\":\"" + message.replace("\\", "\\\\").replace("\"", "\\\"") + "\"}");
    }

    /** User name and password (Basic or the login form), checked against the Argon2id hashes. */
    static final class PasswordProvider implements AuthenticationProvider {
        private final OperatorAccounts accounts;

        PasswordProvider(OperatorAccounts accounts) {
            this.accounts = accounts;
        }

        @Override
        public Authentication authenticate(Authentication authentication) {
            String from = authentication.getDetails() instanceof WebAuthenticationDetails d ? d.getRemoteAddress() : null;
            Object credentials = authentication.getCredentials();
            Optional<Principal> p = accounts.login(authentication.getName(), credentials == null ? null : credentials.toString(), from);
            return authenticated(p.orElseThrow(() -> new BadCredentialsException("wrong user name or password")));
        }

        @Override
        public boolean supports(Class<?> authentication) {
            return UsernamePasswordAuthenticationToken.class.isAssignableFrom(authentication);
        }
    }

    /** {@code Authorization: Bearer <API token>}; a wrong token is refused at once, not treated as anonymous. */
    static final class BearerTokenFilter extends OncePerRequestFilter {
        private final OperatorAccounts accounts;
        private final AuthenticationEntryPoint entryPoint;

        BearerTokenFilter(OperatorAccounts accounts, AuthenticationEntryPoint entryPoint) {
            this.accounts = accounts;
            this.entryPoint = entryPoint;
        }

        @Override
        protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain) throws ServletException, IOException {
            String header = request.getHeader("Authorization");
            if (header != null && header.regionMatches(true, 0, "Bearer ", 0, 7)) {
                Optional<Principal> p = accounts.authenticateToken(header.substring(7).trim(), request.getRemoteAddr());
                if (p.isEmpty()) {
                    SecurityContextHolder.clearContext();
                    json(response, 401, "invalid, expired or revoked API token");
                    return;
                }
                SecurityContext context = SecurityContextHolder.createEmptyContext();
                context.setAuthentication(authenticated(p.get()));
                SecurityContextHolder.setContext(context);
            }
            chain.doFilter(request, response);
        }
    }

    /**
     * Refuses cross-site state changes made with a browser session: the browser's Fetch Metadata
     * ({@code Sec-Fetch-Site}) or {@code Origin} must say the request came from this site.
     */
    static final class SameOriginFilter extends OncePerRequestFilter {
        private static final Set<String> SAFE = Set.of("GET", "HEAD", "OPTIONS");

        @Override
        protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain) throws ServletException, IOException {
            if (!SAFE.contains(request.getMethod()) && request.getHeader("Authorization") == null) {
                String site = request.getHeader("Sec-Fetch-Site");
                String origin = request.getHeader("Origin");
                String self = request.getScheme() + "://" + request.getHeader("Host");
                boolean crossSite = (site != null && !site.equals("same-origin") && !site.equals("none"))
                        || (origin != null && !origin.equals("null") && !origin.equalsIgnoreCase(self));
                if (crossSite) {
                    LoggerFactory.getLogger(OperatorSecurity.class).warn("refused cross-site {} {} (Sec-Fetch-Site {}, Origin {})",
                            request.getMethod(), request.getRequestURI(), site, origin);
                    json(response, 403, "cross-site request refused: state changes must come from this site's pages or carry an Authorization header");
                    return;
                }
            }
            chain.doFilter(request, response);
        }
    }
}

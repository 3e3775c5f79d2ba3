package dev.fedprune.coordinator.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.agent.connection.CoordinatorClient;
import dev.fedprune.agent.image.FashionMnist;
import dev.fedprune.agent.image.GeneratedImages;
import dev.fedprune.agent.image.IdxWriter;
import dev.fedprune.agent.model.ModelCache;
import dev.fedprune.agent.task.AgentLoop;
import dev.fedprune.proto.v1.PruneMethod;
import dev.fedprune.agent.task.MagnitudeMaskEngine;
import dev.fedprune.agent.task.MaskEngine;
import dev.fedprune.aggregation.format.DType;
import dev.fedprune.aggregation.model.SyntheticLlama;
import dev.fedprune.coordinator.app.CoordinatorApplication;
import dev.fedprune.coordinator.job.JobSpecParser;
import dev.fedprune.coordinator.node.CoordinatorNode;
import dev.fedprune.proto.v1.DeviceResources;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.core.env.Environment;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The dashboard in a real headless Chromium against a real coordinator with real agents: a job runs
 * and the page follows it live (no reload), and an invalid spec shows its field-level error.
 */
@SpringBootTest(classes = CoordinatorApplication.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class DashboardBrowserTest {
    static final Path DATA;
    static final Path SCREENSHOTS = Path.of("target", "screenshots");
    static final File CHROMIUM = new File("/usr/bin/chromium");
    static final File CHROMEDRIVER = new File("/usr/bin/chromedriver");

    static {
        try {
            DATA = Files.createTempDirectory("fedprune-dashboard");
            SyntheticLlama.write(DATA.resolve("model"), new SyntheticLlama.Shape(3, 32, 64, 4, 2, 40, 32, true, DType.F32), 11);
            Files.writeString(DATA.resolve("data.jsonl"), "{\"ids\":[1,5,6,7]}\n");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        registry.add("fedprune.data-dir", () -> DATA.resolve("coordinator").toString());
        registry.add("fedprune.grpc.port", () -> 0);
        registry.add("fedprune.grpc.bind-address", () -> "127.0.0.1");
        registry.add("fedprune.security.admin.password", () -> "dashboard-admin-password");
        // Agents of one test go offline soon after it: the next test's round selects only its own agents.
        registry.add("fedprune.agent-timeout-seconds", () -> 10);
    }

    static WebDriver browser;

    @BeforeAll
    static void browser() {
        Assumptions.assumeTrue(CHROMIUM.canExecute() && CHROMEDRIVER.canExecute(),
                "SKIPPED: browser tests need Debian's chromium and chromium-driver (.ci/run installs them)");
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM);
        options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1280,1400", "--user-data-dir=" + DATA.resolve("chromium-profile"));
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER).usingAnyFreePort().build();
        browser = new ChromeDriver(service, options);
    }

    @AfterAll
    static void closeBrowser() {
        if (browser != null) {
            browser.quit();
        }
    }

    @Autowired
    Environment env;

    @Autowired
    CoordinatorNode node;

    String url(String path) {
        return "http://127.0.0.1:" + env.getProperty("local.server.port") + path;
    }

    /**
     * Opens a page and waits until the element that shows it is ready. Pages are behind Spring Security: when the
     * coordinator answers with its login form (first visit, or a session it no longer knows), the test signs in
     * through the form and lands back on the page it asked for.
     */
    void open(String path, By ready) {
        browser.get(url(path));
        if (browser.getCurrentUrl().contains("/login")) {
            browser.findElement(By.name("username")).sendKeys("admin");
            browser.findElement(By.name("password")).sendKeys("dashboard-admin-password");
            browser.findElement(By.cssSelector("button[type=submit]")).click();
            // Argon2id makes the password check deliberately slow; a loaded CI machine needs the margin.
            waitUpTo(60).until(d -> !d.getCurrentUrl().contains("/login"));
            browser.get(url(path));
        }
        try {
            waitUpTo(30).until(d -> !d.findElements(ready).isEmpty());
        } catch (org.openqa.selenium.TimeoutException e) {
            throw new AssertionError("page " + path + " never showed " + ready + "; the browser is at " + browser.getCurrentUrl()
                    + " showing:\n" + browser.findElement(By.tagName("body")).getText(), e);
        }
    }

    WebDriverWait waitUpTo(int seconds) {
        return new WebDriverWait(browser, Duration.ofSeconds(seconds));
    }

    static void screenshot(String name) throws Exception {
        Files.createDirectories(SCREENSHOTS);
        Files.write(SCREENSHOTS.resolve(name + ".png"), ((TakesScreenshot) browser).getScreenshotAs(OutputType.BYTES));
    }

    /** The agents of an earlier test in this context count as online until their timeout: the next round must not select them. */
    void awaitNoAgentOnline() throws InterruptedException {
        long end = System.currentTimeMillis() + 60_000;
        while (!node.agents().onlineAgents().isEmpty()) {
            assertTrue(System.currentTimeMillis() < end, "agents of an earlier test still online after 60 s");
            Thread.sleep(200);
        }
    }

    /** Agents that take a moment per task, so that the page has progress to show. */
    List<AgentLoop> startAgents(int count, long delayMillis) {
        MaskEngine slow = (request, progress) -> {
            try {
                Thread.sleep(delayMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return new MagnitudeMaskEngine().computeMasks(request, progress);
        };
        List<AgentLoop> loops = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            CoordinatorClient client = CoordinatorClient.enroll("127.0.0.1:" + node.grpcPort(),
                    node.enrollment().mintToken("site-" + i, Duration.ofMinutes(5), "test").token(), node.pki().caFingerprint(),
                    "hospital-" + i, "site-" + i, DeviceResources.newBuilder().setCpuCores(2).setDeviceClass("hospital-server").build(),
                    CoordinatorClient.defaultRetry());
            AgentLoop loop = new AgentLoop(client, new ModelCache(client, DATA.resolve("agent-" + i), null),
                    Map.of(PruneMethod.PRUNE_METHOD_MAGNITUDE, slow), new AgentLoop.Options("hospital-" + i, DATA.resolve("data.jsonl"), false, 0, 1));
            Thread t = new Thread(loop::run, "agent-" + i);
            t.setDaemon(true);
            t.start();
            loops.add(loop);
        }
        return loops;
    }

    @Test
    void invalidSpecShowsTheFieldError() throws Exception {
        open("/", By.id("spec"));
        WebElement spec = browser.findElement(By.id("spec"));
        spec.clear();
        spec.sendKeys("model: " + DATA.resolve("model") + "\nsparsity: 1.5\n");
        browser.findElement(By.id("submit")).click();
        WebElement error = waitUpTo(10).until(d -> d.findElement(By.id("spec-error")));
        assertTrue(error.getText().startsWith("sparsity"), error.getText());
        assertTrue(error.getText().contains("[0, 1)"), error.getText());
    }

    @Test
    void submittedJobRunsLiveOnTheJobPage() throws Exception {
        awaitNoAgentOnline();
        List<AgentLoop> agents = startAgents(3, 1500);
        try {
            open("/", By.id("spec"));
            waitUpTo(15).until(d -> d.findElements(By.cssSelector("#agents tbody tr")).size() >= 3);
            WebElement spec = browser.findElement(By.id("spec"));
            spec.clear();
            spec.sendKeys("name: live\nmodel: " + DATA.resolve("model") + "\nlocalPruner: magnitude\nsparsity: 0.5\nstrategy: iterative\n"
                    + "agentsPerRound: 3\ndeadlineSeconds: 120\nevaluationSamples: 1\n");
            browser.findElement(By.id("submit")).click();
            waitUpTo(10).until(d -> d.findElement(By.id("created-link"))).click();

            // Watch the page without reloading it: every distinct text of the round timeline is recorded.
            Set<String> seen = new HashSet<>();
            boolean overviewShot = false;
            long end = System.currentTimeMillis() + 90_000;
            while (System.currentTimeMillis() < end) {
                String timeline = browser.findElement(By.id("timeline")).getText();
                seen.add(timeline);
                if (!overviewShot && timeline.contains("round 2")) {
                    screenshot("job-running");
                    overviewShot = true;
                }
                if (browser.findElement(By.id("title")).getText().contains("COMPLETED")) {
                    break;
                }
                Thread.sleep(200);
            }
            assertTrue(browser.findElement(By.id("title")).getText().contains("COMPLETED"), browser.findElement(By.id("title")).getText());
            assertTrue(seen.stream().anyMatch(t -> t.contains("round 1") && !t.contains("round 2")), "saw round 1 alone: " + seen);
            assertTrue(seen.stream().anyMatch(t -> t.contains("round 3")), "saw round 3: " + seen);
            String finalTimeline = waitUpTo(10).until(d -> {
                String t = d.findElement(By.id("timeline")).getText();
                return t.contains("round 4 (evaluation)") ? t : null;
            });
            assertTrue(finalTimeline.contains("round 4 (evaluation) CLOSED"), finalTimeline);
            // Three layers voted on, then the evaluation round: the starting model and the model after each round.
            // Read in one script call: the page re-renders every second, so element handles go stale.
            @SuppressWarnings("unchecked")
            List<String> quality = (List<String>) ((org.openqa.selenium.JavascriptExecutor) browser).executeScript(
                    "return [...document.querySelectorAll('#quality-table tr')].map(r => r.innerText.replace(/\\s+/g, ' '));");
            assertEquals(4, quality.size(), String.valueOf(quality));
            assertTrue(quality.get(0).startsWith("starting model perplexity"), quality.get(0));
            assertTrue(quality.get(3).startsWith("after round 3 perplexity"), quality.get(3));
            assertTrue(seen.stream().anyMatch(t -> t.contains("0 / 3 contributions") || t.contains("1 / 3 contributions")),
                    "saw contributions being counted: " + seen);
            assertEquals(3, browser.findElements(By.cssSelector("#round-agents tbody tr")).size());
            assertTrue(browser.findElement(By.id("layers")).getText().contains("layer 2"));
            assertTrue(browser.findElement(By.id("artifacts")).getText().contains("global-mask.safetensors"));
            screenshot("job-completed");
            open("/", By.id("jobs"));
            waitUpTo(10).until(d -> d.findElement(By.cssSelector("#jobs tbody")).getText().contains("COMPLETED"));
            screenshot("federation-overview");
        } finally {
            agents.forEach(AgentLoop::stop);
        }
    }

    @Test
    void aTrainingJobPageShowsAccuracyDensityPerLayerAndMaskAdjustments() throws Exception {
        awaitNoAgentOnline();
        List<AgentLoop> agents = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            Path images = DATA.resolve("images-" + i);
            IdxWriter.write(images, FashionMnist.Split.TRAIN, GeneratedImages.bars(160, 10 + i));
            IdxWriter.write(images, FashionMnist.Split.TEST, GeneratedImages.bars(40, 20 + i));
            CoordinatorClient client = CoordinatorClient.enroll("127.0.0.1:" + node.grpcPort(),
                    node.enrollment().mintToken("lab-" + i, Duration.ofMinutes(5), "test").token(), node.pki().caFingerprint(),
                    "lab-" + i, "lab-" + i, DeviceResources.newBuilder().setCpuCores(2).build(), CoordinatorClient.defaultRetry());
            AgentLoop loop = new AgentLoop(client, new ModelCache(client, DATA.resolve("lab-" + i), null), Map.of(),
                    new AgentLoop.Options("lab-" + i, images, false, 0, 1));
            Thread t = new Thread(loop::run, "lab-" + i);
            t.setDaemon(true);
            t.start();
            agents.add(loop);
        }
        try {
            String jobId = node.engine().submit(JobSpecParser.parse("""
                name: training-page
                method: sparse_training
                variant: fedtiny
                architecture: small_vgg
                channels: [2, 4]
                density: 0.5
                rounds: 3
                localSteps: 2
                batchSize: 8
                adjustInterval: 1
                adjustStopRound: 2
                blocks: 1
                candidates: 2
                evaluationImages: 20
                agentsPerRound: 2
                deadlineSeconds: 120
                seed: 5
                """));
            open("/job.html?id=" + jobId, By.id("title"));
            waitUpTo(180).until(d -> d.findElement(By.id("title")).getText().contains("COMPLETED"));
            @SuppressWarnings("unchecked")
            Map<String, Object> page = (Map<String, Object>) ((org.openqa.selenium.JavascriptExecutor) browser).executeScript("""
                return {
                  layersTitle: document.getElementById('layers-title').innerText,
                  layers: document.getElementById('layers').innerText,
                  adjustmentsTitle: document.getElementById('agreement-title').innerText,
                  adjustments: [...document.querySelectorAll('#adjustments tbody tr')].map(r => r.innerText.replace(/\\s+/g, ' ')),
                  quality: [...document.querySelectorAll('#quality-table tr')].map(r => r.innerText.replace(/\\s+/g, ' ')),
                  result: document.getElementById('artifacts').innerText
                };""");
            assertEquals("Per-layer density of the global mask", page.get("layersTitle"));
            assertTrue(String.valueOf(page.get("layers")).contains("conv1.weight"), String.valueOf(page.get("layers")));
            assertEquals("Training rounds and mask adjustments", page.get("adjustmentsTitle"));
            @SuppressWarnings("unchecked")
            List<String> adjustments = (List<String>) page.get("adjustments");
            assertEquals(3, adjustments.size(), adjustments::toString); // one row per training round
            assertTrue(adjustments.stream().anyMatch(r -> r.contains("adjustment") && r.contains(".weight: ")), adjustments::toString);
            @SuppressWarnings("unchecked")
            List<String> quality = (List<String>) page.get("quality");
            assertTrue(!quality.isEmpty() && quality.stream().allMatch(r -> r.contains("accuracy")), quality::toString);
            assertTrue(String.valueOf(page.get("result")).contains("final accuracy"), String.valueOf(page.get("result")));
            screenshot("training-job-completed");
        } finally {
            agents.forEach(AgentLoop::stop);
        }
    }
}

package dev.fedprune.coordinator.health;

import dev.fedprune.coordinator.round.RoundEngine;
import dev.fedprune.coordinator.round.RoundEngine.TickerStatus;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.function.LongSupplier;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

/**
 * The round engine's ticker: UP while ticks keep completing. DOWN when it is not running, or when no
 * tick has completed for the allowed age (the configured one, or five tick intervals if that is
 * longer), with the reason: a tick running all that time (stuck, or aggregating longer than allowed),
 * ticks failing (the last failure), or no tick at all (the ticker thread died).
 */
public final class EngineHealthIndicator implements HealthIndicator {
    static final int MIN_TICK_INTERVALS = 5;

    private final RoundEngine engine;
    private final LongSupplier clock;
    private final Duration stalledAfter;

    /** @param clock the engine's clock, in milliseconds */
    public EngineHealthIndicator(RoundEngine engine, LongSupplier clock, Duration stalledAfter) {
        this.engine = engine;
        this.clock = clock;
        this.stalledAfter = stalledAfter;
    }

    @Override
    public Health health() {
        TickerStatus ticker = engine.tickerStatus();
        if (!ticker.running()) {
            return Health.down().withDetail("error", "the round engine's ticker is not running (the engine was closed or never started)").build();
        }
        long now = clock.getAsLong();
        long allowedMillis = Math.max(stalledAfter.toMillis(), MIN_TICK_INTERVALS * ticker.tickMillis());
        // Before the first tick completes, the ticker's start is the last sign of life.
        long lastProgress = Math.max(ticker.lastSuccessfulTickAt(), ticker.startedAt());
        long ageMillis = now - lastProgress;
        Health.Builder health = ageMillis <= allowedMillis ? Health.up() : Health.down();
        health.withDetail("tickMillis", ticker.tickMillis())
                .withDetail("lastSuccessfulTick", ticker.lastSuccessfulTickAt() < 0 ? "none yet" : Instant.ofEpochMilli(ticker.lastSuccessfulTickAt()).toString())
                .withDetail("millisSinceLastSuccessfulTick", ageMillis)
                .withDetail("allowedMillis", allowedMillis);
        if (ticker.lastFailure() != null) {
            health.withDetail("lastFailure", ticker.lastFailure());
        }
        if (ageMillis <= allowedMillis) {
            return health.build();
        }
        String since = ticker.lastSuccessfulTickAt() < 0 ? "since the ticker started " + seconds(ageMillis) + " ago"
                : "for " + seconds(ageMillis);
        long running = ticker.tickRunningSince() < 0 ? -1 : now - ticker.tickRunningSince();
        String error;
        // Between ticks of a failing engine a failure is recorded; a running tick after a success is the one that has not ended.
        if (running >= 0 && (ticker.lastFailure() == null || running > allowedMillis)) {
            error = "stuck: no tick has completed " + since + "; the current tick has been running for " + seconds(running)
                    + " (a hung call, or an aggregation longer than fedprune.health.engine-stalled-after)";
        } else if (ticker.lastFailure() != null) {
            error = "failing: no tick has succeeded " + since + "; the last one failed with " + ticker.lastFailure();
        } else {
            error = "dead: no tick has run " + since + "; the ticker thread stopped";
        }
        return health.withDetail("error", error).build();
    }

    private static String seconds(long millis) {
        return String.format(Locale.ROOT, "%.1f s", millis / 1000.0);
    }
}

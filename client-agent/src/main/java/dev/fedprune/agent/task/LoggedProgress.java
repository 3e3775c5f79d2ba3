package dev.fedprune.agent.task;

import java.util.Locale;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Progress of long work as log lines a site administrator can follow: the first report, then at most
 * one line per interval, and the last one (done = total) when the work took longer than an interval.
 * Byte counts read as MiB with the rate and the time left.
 */
public final class LoggedProgress implements ProgressListener {
    private static final Logger log = LoggerFactory.getLogger(LoggedProgress.class);
    /** How often a line is written at most. */
    public static final long INTERVAL_MILLIS = 5_000;

    private final String prefix;
    private final boolean bytes;
    private final LongSupplier clockMillis;
    private final long intervalMillis;
    private final Consumer<String> sink;
    private final long started;
    private long lastLine = Long.MIN_VALUE;

    LoggedProgress(String prefix, boolean bytes, LongSupplier clockMillis, long intervalMillis, Consumer<String> sink) {
        this.prefix = prefix;
        this.bytes = bytes;
        this.clockMillis = clockMillis;
        this.intervalMillis = intervalMillis;
        this.sink = sink;
        this.started = clockMillis.getAsLong();
    }

    /** Steps of a computation (layers, samples): "prefix stage: 12 of 32 (37%)". */
    public static LoggedProgress steps(String prefix) {
        return new LoggedProgress(prefix, false, System::currentTimeMillis, INTERVAL_MILLIS, log::info);
    }

    /** A transfer: "prefix stage: 120.0 of 260.0 MiB (46%), 35.2 MiB/s, about 4 s left". */
    public static LoggedProgress transfer(String prefix) {
        return new LoggedProgress(prefix, true, System::currentTimeMillis, INTERVAL_MILLIS, log::info);
    }

    @Override
    public void progress(String stage, long done, long total) {
        long now = clockMillis.getAsLong();
        boolean finished = total > 0 && done >= total;
        boolean first = lastLine == Long.MIN_VALUE;
        if (!first && now - lastLine < intervalMillis && !(finished && now - started >= intervalMillis)) {
            return;
        }
        if (first && finished) {
            return; // quick work needs no progress line
        }
        lastLine = now;
        sink.accept(prefix + stage + ": " + describe(done, total, now - started));
    }

    private String describe(long done, long total, long elapsedMillis) {
        String percent = total > 0 ? String.format(Locale.ROOT, " (%d%%)", Math.round(100.0 * done / total)) : "";
        if (!bytes) {
            return done + (total > 0 ? " of " + total : "") + percent;
        }
        String text = String.format(Locale.ROOT, "%.1f of %.1f MiB", done / 1048576.0, total / 1048576.0) + percent;
        if (elapsedMillis > 0 && done > 0) {
            double perSecond = done * 1000.0 / elapsedMillis;
            text += String.format(Locale.ROOT, ", %.1f MiB/s", perSecond / 1048576.0);
            if (total > done) {
                text += String.format(Locale.ROOT, ", about %d s left", Math.round((total - done) / perSecond));
            }
        }
        return text;
    }
}

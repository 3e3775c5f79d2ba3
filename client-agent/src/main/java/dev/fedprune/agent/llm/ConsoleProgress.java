package dev.fedprune.agent.llm;

import dev.fedprune.agent.task.ProgressListener;
import java.io.PrintStream;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** A console progress bar on stderr that follows a {@link ProgressListener}'s stages. */
public final class ConsoleProgress implements ProgressListener, AutoCloseable {
    private final PrintStream out;
    private ProgressBar bar;
    private String stage;

    public ConsoleProgress(PrintStream out) {
        this.out = out;
    }

    @Override
    public synchronized void progress(String newStage, long done, long total) {
        if (bar == null || !newStage.equals(stage)) {
            close();
            stage = newStage;
            bar = new ProgressBarBuilder().setTaskName(newStage).setInitialMax(total).setStyle(ProgressBarStyle.ASCII)
                    .setConsumer(new ConsoleProgressBarConsumer(out)).setUpdateIntervalMillis(500).build();
        }
        bar.maxHint(total);
        bar.stepTo(done);
    }

    @Override
    public synchronized void close() {
        if (bar != null) {
            bar.close();
            bar = null;
        }
    }
}

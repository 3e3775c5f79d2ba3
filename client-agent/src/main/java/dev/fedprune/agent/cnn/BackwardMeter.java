package dev.fedprune.agent.cnn;

/** Bytes held for backward now and at most, actual and as a dense cache would hold them. */
final class BackwardMeter {
    long held;
    long peak;
    long denseHeld;
    long densePeak;

    void hold(long bytes, long denseBytes) {
        held += bytes;
        denseHeld += denseBytes;
        peak = Math.max(peak, held);
        densePeak = Math.max(densePeak, denseHeld);
    }

    void release(long bytes, long denseBytes) {
        held -= bytes;
        denseHeld -= denseBytes;
    }
}

package dev.fedprune.agent.cnn;

import ai.djl.Device;
import java.util.Locale;

/** The CNNs an agent can train, selectable by name ({@code small-vgg}, {@code resnet18}). */
public enum CnnArchitecture {
    /** {@link SmallVggCnn} with 16, 32, 64 channels: the one the experiments use on a small CPU. */
    SMALL_VGG,
    /** {@link ResNet18} with the standard width 64. */
    RESNET18;

    public MaskedCnn create(int inputChannels, int side, int classes, long seed, Device device) {
        return switch (this) {
            case SMALL_VGG -> new SmallVggCnn(new CnnConfig(inputChannels, side, new int[] {16, 32, 64}, classes), seed, device);
            case RESNET18 -> new ResNet18(inputChannels, side, classes, 64, seed, device);
        };
    }

    /** Parses {@code small-vgg} or {@code resnet18} (case and {@code _}/{@code -} insensitive). */
    public static CnnArchitecture parse(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT).replace('_', '-');
        return switch (n) {
            case "small-vgg", "smallvgg", "vgg" -> SMALL_VGG;
            case "resnet18", "resnet-18" -> RESNET18;
            default -> throw new IllegalArgumentException("unknown CNN architecture '" + name + "', expected small-vgg or resnet18");
        };
    }
}

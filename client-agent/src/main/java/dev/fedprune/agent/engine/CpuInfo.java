package dev.fedprune.agent.engine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * The processor this agent computes on, from {@code /proc/cpuinfo}: named in self-check refusals and
 * task metrics, since which kernels a tensor engine picks depends on the vector extensions.
 *
 * @param model  the model name ({@code AMD EPYC}, {@code Intel(R) Xeon(R) …}), "unknown" if unreadable
 * @param family the CPU family number, -1 if unknown
 * @param flags  the feature flags of the first processor
 */
public record CpuInfo(String model, int family, Set<String> flags) {
    public CpuInfo {
        flags = Set.copyOf(flags);
    }

    public static CpuInfo current() {
        try {
            return parse(Files.readAllLines(Path.of("/proc/cpuinfo")));
        } catch (IOException | RuntimeException e) {
            return new CpuInfo("unknown (" + e.getMessage() + ")", -1, Set.of());
        }
    }

    static CpuInfo parse(List<String> lines) {
        String model = "unknown";
        int family = -1;
        Set<String> flags = Set.of();
        boolean modelSeen = false;
        boolean familySeen = false;
        boolean flagsSeen = false;
        for (String line : lines) {
            int colon = line.indexOf(':');
            if (colon < 0) {
                continue;
            }
            String key = line.substring(0, colon).trim();
            String value = line.substring(colon + 1).trim();
            if (key.equals("model name") && !modelSeen) {
                model = value;
                modelSeen = true;
            } else if (key.equals("cpu family") && !familySeen) {
                family = Integer.parseInt(value);
                familySeen = true;
            } else if (key.equals("flags") && !flagsSeen) {
                flags = Set.of(value.split("\\s+"));
                flagsSeen = true;
            }
        }
        return new CpuInfo(model, family, flags);
    }

    /** The widest vector extension the tensor engines pick kernels for: AVX-512, AVX2 or older. */
    public String vectorExtension() {
        if (flags.contains("avx512f")) {
            return "AVX-512";
        }
        return flags.contains("avx2") ? "AVX2" : "no AVX2";
    }

    /** {@code AMD EPYC (family 26, AVX-512)}. */
    public String describe() {
        return model + " (family " + family + ", " + vectorExtension() + ")";
    }
}

package dev.fedprune.simulations.study;

import ai.djl.Device;
import dev.fedprune.agent.cnn.CnnConfig;
import dev.fedprune.agent.cnn.MaskedCnn;
import dev.fedprune.agent.cnn.NsConvCnn;
import dev.fedprune.agent.cnn.SmallVggCnn;
import dev.fedprune.agent.image.LabeledImages;
import dev.fedprune.agent.train.LocalImages;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.format.SafetensorsFile;
import dev.fedprune.aggregation.format.TensorInfo;
import dev.fedprune.aggregation.sparsetrain.LayerShape;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Measures one agent's memory for one round of a finished run, in a fresh JVM (the study starts one
 * per run): loads the agent's images, builds the job's CNN with the public CNN classes, installs the
 * run's final mask and weights, then does what the agent's worker does in a training round (evaluate
 * the held-out images, {@code localSteps} masked SGD steps, and, for methods that adjust the mask, the
 * top-K inactive gradients of the largest adjustment the run requested). Prints one JSON line with the
 * process's peak resident set ({@code VmHWM} of /proc/self/status) and its resident set just before
 * the round: real bytes held by the OS for this process, JVM and libtorch included.
 *
 * <p>Arguments: RESULT_DIR DATA_DIR LOCAL_STEPS BATCH_SIZE LEARNING_RATE SEED [TOP_K_JSON]; system property
 * {@code fedprune.probe.sapGamma} sets the SAP ratio of an NSConv VGG (default 0).
 */
public final class AgentMemoryProbe {
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private AgentMemoryProbe() {
    }

    public static void main(String[] args) throws Exception {
        System.setProperty("offline", "true");
        System.setProperty("ai.djl.offline", "true");
        Path result = Path.of(args[0]);
        Path data = Path.of(args[1]);
        int localSteps = Integer.parseInt(args[2]);
        int batchSize = Integer.parseInt(args[3]);
        float learningRate = Float.parseFloat(args[4]);
        long seed = Long.parseLong(args[5]);
        Map<String, Integer> topK = new LinkedHashMap<>();
        if (args.length > 6) {
            JSON.readTree(args[6]).properties().forEach(e -> topK.put(e.getKey(), e.getValue().asInt()));
        }
        long startRss = status("VmRSS");
        JsonNode config = JSON.readTree(Files.readString(result.resolve("model/config.json")));
        String architecture = config.path("architecture").asString("small_vgg");
        if (!architecture.equals("small_vgg") && !architecture.equals("nsconv_vgg")) {
            System.out.println("the probe builds small_vgg and nsconv_vgg, not " + architecture);
            System.exit(2);
        }
        double sapGamma = Double.parseDouble(System.getProperty("fedprune.probe.sapGamma", "0"));
        int[] channels = new int[config.get("channels").size()];
        for (int i = 0; i < channels.length; i++) {
            channels[i] = config.get("channels").get(i).asInt();
        }
        LocalImages images = LocalImages.load(data, config.get("imageSide").asInt(), config.get("classes").asInt());
        Map<String, Long> out = new LinkedHashMap<>();
        CnnConfig cnnConfig = new CnnConfig(config.get("imageChannels").asInt(), config.get("imageSide").asInt(), channels, config.get("classes").asInt());
        try (MaskedCnn cnn = architecture.equals("nsconv_vgg") ? nsConv(cnnConfig, seed, sapGamma) : new SmallVggCnn(cnnConfig, seed, Device.cpu());
             SafetensorsFile model = SafetensorsFile.open(result.resolve("model/model.safetensors"))) {
            Map<String, BitMask> pruned = readMasks(result.resolve("global-mask.safetensors"));
            for (LayerShape l : cnn.sparseLayers()) {
                BitMask p = pruned.get(l.name());
                BitMask keep = new BitMask(l.weightCount());
                for (int i = 0; i < l.weightCount(); i++) {
                    if (p == null || !p.get(i)) {
                        keep.set(i);
                    }
                }
                cnn.setKeepMask(l.name(), keep);
                cnn.setWeights(l.name(), model.floats(l.name()));
            }
            Map<String, float[]> dense = new HashMap<>();
            for (String name : cnn.denseState().keySet()) {
                dense.put(name, model.floats(name));
            }
            cnn.setDenseState(dense);
            long readyRss = status("VmRSS");
            long readyHwm = status("VmHWM");

            int[] all = new int[images.heldOut().size()];
            for (int i = 0; i < all.length; i++) {
                all[i] = i;
            }
            for (int from = 0; from < all.length; from += batchSize) {
                LabeledImages.Batch b = images.heldOut().batch(all, from, Math.min(all.length, from + batchSize));
                cnn.evaluate(b.pixels(), b.labels());
            }
            SplittableRandom random = new SplittableRandom(seed);
            int n = images.train().size();
            for (int s = 0; s <= localSteps; s++) {
                int[] idx = new int[Math.min(batchSize, n)];
                for (int i = 0; i < idx.length; i++) {
                    idx[i] = random.nextInt(n);
                }
                LabeledImages.Batch b = images.train().batch(idx, 0, idx.length);
                if (s < localSteps) {
                    cnn.trainStep(b.pixels(), b.labels(), learningRate);
                } else if (!topK.isEmpty()) {
                    cnn.topKInactiveGradients(b.pixels(), b.labels(), topK);
                }
            }
            out.put("vm_hwm_bytes", status("VmHWM"));
            out.put("rss_before_round_bytes", readyRss);
            out.put("hwm_before_round_bytes", readyHwm);
            out.put("rss_at_start_bytes", startRss);
            out.put("rss_after_round_bytes", status("VmRSS"));
            long weights = cnn.sparseLayers().stream().mapToLong(LayerShape::weightCount).sum() + cnn.denseParameterCount();
            out.put("model_parameters", weights);
            out.put("top_k_pairs", topK.values().stream().mapToLong(Integer::longValue).sum());
        }
        System.out.println(JSON.writeValueAsString(out));
    }

    /** FedMef's CNN, trained layer-wise with SAP at {@code gamma} as the agents train it. */
    private static NsConvCnn nsConv(CnnConfig config, long seed, double gamma) {
        NsConvCnn cnn = new NsConvCnn(config, seed, Device.cpu());
        cnn.setActivationPruning(gamma);
        return cnn;
    }

    /** A {@code kB} field of /proc/self/status, in bytes. */
    static long status(String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(field + ":")) {
                return Long.parseLong(line.substring(field.length() + 1).replace("kB", "").trim()) * 1024;
            }
        }
        throw new IOException("/proc/self/status has no " + field);
    }

    private static Map<String, BitMask> readMasks(Path file) throws IOException {
        Map<String, BitMask> masks = new LinkedHashMap<>();
        if (!Files.isRegularFile(file)) {
            return masks;
        }
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (TensorInfo info : f.tensors().values()) {
                byte[] bytes = new byte[(int) info.byteSize()];
                ByteBuffer b = f.bytes(info.name());
                b.get(bytes);
                masks.put(info.name(), BitMask.fromBytes(Long.parseLong(f.metadata().get("weights." + info.name())), bytes));
            }
        }
        return masks;
    }
}

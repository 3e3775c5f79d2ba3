package dev.fedprune.agent.train;

import ai.djl.Device;
import dev.fedprune.agent.cnn.CnnConfig;
import dev.fedprune.agent.cnn.MaskedCnn;
import dev.fedprune.agent.cnn.NsConvCnn;
import dev.fedprune.agent.cnn.ResNet18;
import dev.fedprune.agent.cnn.SmallVggCnn;
import dev.fedprune.agent.task.LocalData;
import dev.fedprune.agent.task.TaskContext;
import dev.fedprune.aggregation.format.BitMask;
import dev.fedprune.aggregation.sparse.SparseTensor;
import dev.fedprune.aggregation.sparsetrain.LayerShape;
import dev.fedprune.proto.v1.CnnModelSpec;
import dev.fedprune.proto.v1.MaskSet;
import dev.fedprune.proto.v1.ModelManifest;
import dev.fedprune.proto.v1.SparseUpdate;
import dev.fedprune.proto.v1.Task;
import dev.fedprune.proto.v1.TensorEntry;
import dev.fedprune.proto.v1.TrainingTaskSpec;
import dev.fedprune.wire.MaskWire;
import dev.fedprune.wire.SparseTensorWire;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What an agent keeps in memory between the tasks of a sparse training job: the job's CNN, the global
 * mask it holds (downloaded again only when the coordinator changes it), and its own images. The tasks
 * of every kind of the job work on this one model, through {@link #withModel} or {@link #withGlobalModel}.
 *
 * <p>DJL's gradient collection is global to the JVM, so every agent of the JVM (simulations, tests)
 * computes on its model under one lock.
 */
public final class HeldCnn implements AutoCloseable {
    /** Serialises model computation across the agents of one JVM. */
    private static final Object DJL_LOCK = new Object();

    /** Work on the job's model, under the lock. */
    @FunctionalInterface
    public interface CnnWork {
        void run(MaskedCnn cnn) throws IOException;
    }

    private final Device device;
    private LocalImages data;
    private String dataKey;
    private MaskedCnn model;
    private String modelKey;
    private String heldMaskArtifact;
    private Map<String, BitMask> keep = Map.of();

    /** @param device where the CNN is built and trained: the CPU, or a CUDA device when the engine has one */
    public HeldCnn(Device device) {
        this.device = device;
    }

    /** The agent's images for the job's CNN, loaded once for each image size and class count. */
    public LocalImages images(Task task, LocalData localData) throws IOException {
        CnnModelSpec m = task.getTraining().getModel();
        Path dataDir = localData.imagesFor(task.getJobId());
        if (m.getImageChannels() != 1) {
            throw new IllegalArgumentException("model.image_channels: " + m.getImageChannels() + "; this agent's IDX images are grey (1 channel)");
        }
        String key = m.getImageSide() + "/" + m.getClasses();
        if (data == null || !key.equals(dataKey)) {
            data = LocalImages.load(dataDir, m.getImageSide(), m.getClasses());
            dataKey = key;
        }
        return data;
    }

    /** Runs {@code work} on the task's CNN (built on first use for its job and model), under the lock. */
    public void withModel(Task task, CnnWork work) throws IOException {
        synchronized (DJL_LOCK) {
            work.run(model(task));
        }
    }

    /**
     * Runs {@code work} on the task's CNN holding the global model of the task: its weights, and its mask
     * when this agent does not hold that mask already (downloads first, then the lock).
     */
    public void withGlobalModel(Task task, TaskContext context, CnnWork work) throws IOException {
        TrainingTaskSpec spec = task.getTraining();
        byte[] mask = spec.getMaskArtifactId().equals(heldMaskArtifact) ? null : context.artifact(spec.getMaskArtifactId());
        byte[] weights = context.artifact(spec.getWeightsArtifactId());
        synchronized (DJL_LOCK) {
            MaskedCnn cnn = model(task);
            if (mask != null) {
                installMask(cnn, mask);
                heldMaskArtifact = spec.getMaskArtifactId();
            }
            installWeights(cnn, weights);
            work.run(cnn);
        }
    }

    /** Installs a model other than the global one (an ABNS candidate): the held mask is no longer the global mask. */
    public void install(MaskedCnn cnn, byte[] weights, byte[] mask) throws IOException {
        heldMaskArtifact = null;
        installMask(cnn, mask);
        installWeights(cnn, weights);
    }

    private MaskedCnn model(Task task) {
        TrainingTaskSpec spec = task.getTraining();
        String key = task.getJobId() + "/" + task.getModel().getModelId();
        if (model != null && key.equals(modelKey)) {
            return model;
        }
        if (model != null) {
            model.close();
            model = null;
        }
        CnnModelSpec m = spec.getModel();
        MaskedCnn cnn = switch (m.getArchitecture()) {
            case CNN_ARCHITECTURE_SMALL_VGG -> new SmallVggCnn(new CnnConfig(m.getImageChannels(), m.getImageSide(),
                    m.getChannelsList().stream().mapToInt(Integer::intValue).toArray(), m.getClasses()), spec.getSeed(), device);
            case CNN_ARCHITECTURE_NSCONV_VGG -> new NsConvCnn(new CnnConfig(m.getImageChannels(), m.getImageSide(),
                    m.getChannelsList().stream().mapToInt(Integer::intValue).toArray(), m.getClasses()), spec.getSeed(), device);
            case CNN_ARCHITECTURE_RESNET18 -> new ResNet18(m.getImageChannels(), m.getImageSide(), m.getClasses(), m.getWidth(), spec.getSeed(), device);
            default -> throw new IllegalArgumentException("model.architecture: " + m.getArchitecture() + " is not a CNN this agent can build");
        };
        try {
            checkManifest(cnn, task.getModel());
        } catch (RuntimeException e) {
            cnn.close();
            throw e;
        }
        model = cnn;
        modelKey = key;
        heldMaskArtifact = null;
        return cnn;
    }

    /** The task's manifest must list exactly the tensors of the CNN this agent built, with the same shapes. */
    static void checkManifest(MaskedCnn cnn, ModelManifest manifest) {
        Map<String, long[]> sparse = new LinkedHashMap<>();
        for (LayerShape l : cnn.sparseLayers()) {
            sparse.put(l.name(), l.shape());
        }
        Map<String, float[]> dense = cnn.denseState();
        int seen = 0;
        for (TensorEntry t : manifest.getTensorsList()) {
            long[] shape = t.getShapeList().stream().mapToLong(Long::longValue).toArray();
            if (t.getPrunable()) {
                long[] own = sparse.get(t.getName());
                if (own == null || !Arrays.equals(own, shape)) {
                    throw new IllegalArgumentException("model.tensors[" + t.getName() + "]: sparse layer of shape " + Arrays.toString(shape)
                            + ", this agent's CNN has " + (own == null ? "no such layer" : Arrays.toString(own)));
                }
            } else {
                float[] own = dense.get(t.getName());
                long size = Arrays.stream(shape).reduce(1, (a, b) -> a * b);
                if (own == null || own.length != size) {
                    throw new IllegalArgumentException("model.tensors[" + t.getName() + "]: dense tensor of " + size + " values, this agent's CNN has "
                            + (own == null ? "no such tensor" : own.length + " values"));
                }
            }
            seen++;
        }
        if (seen != sparse.size() + dense.size()) {
            throw new IllegalArgumentException("model.tensors: " + seen + " tensors, this agent's CNN has " + (sparse.size() + dense.size()));
        }
    }

    /** Installs the prune masks (1 = inactive) of a MaskSet as keep-masks. */
    private void installMask(MaskedCnn cnn, byte[] maskSet) throws IOException {
        Map<String, Long> sizes = new LinkedHashMap<>();
        cnn.sparseLayers().forEach(l -> sizes.put(l.name(), (long) l.weightCount()));
        Map<String, BitMask> masks = new LinkedHashMap<>();
        MaskWire.decode("mask", MaskSet.parseFrom(maskSet), sizes).forEach((name, pruned) -> {
            BitMask k = new BitMask(pruned.length());
            for (long i = 0; i < pruned.length(); i++) {
                if (!pruned.get(i)) {
                    k.set(i);
                }
            }
            masks.put(name, k);
        });
        masks.forEach(cnn::setKeepMask);
        keep = masks;
    }

    /** Installs global weights: active values of the sparse layers (only at active positions) and the dense tensors. */
    private void installWeights(MaskedCnn cnn, byte[] updateBytes) throws IOException {
        SparseUpdate update = SparseUpdate.parseFrom(updateBytes);
        Map<String, float[]> dense = cnn.denseState();
        Map<String, float[]> newDense = new LinkedHashMap<>();
        Map<String, float[]> newSparse = new LinkedHashMap<>();
        Map<String, Integer> sizes = new LinkedHashMap<>();
        cnn.sparseLayers().forEach(l -> sizes.put(l.name(), l.weightCount()));
        for (dev.fedprune.proto.v1.SparseTensor t : update.getTensorsList()) {
            String field = "weights[" + t.getTensorName() + "]";
            Integer sparseSize = sizes.get(t.getTensorName());
            long size = sparseSize != null ? sparseSize : dense.containsKey(t.getTensorName()) ? dense.get(t.getTensorName()).length : -1;
            if (size < 0) {
                throw new IllegalArgumentException(field + ": not a tensor of this CNN");
            }
            SparseTensor decoded = SparseTensorWire.decode(field, t, size);
            if (sparseSize != null) {
                BitMask k = keep.get(t.getTensorName());
                for (int i : decoded.indices()) {
                    if (k == null || !k.get(i)) {
                        throw new IllegalArgumentException(field + ": index " + i + " is an inactive weight of the mask");
                    }
                }
                newSparse.put(t.getTensorName(), decoded.toDense());
            } else {
                newDense.put(t.getTensorName(), decoded.toDense());
            }
        }
        if (!newSparse.keySet().equals(sizes.keySet()) || !newDense.keySet().equals(dense.keySet())) {
            throw new IllegalArgumentException("weights: tensors " + newSparse.keySet() + " + " + newDense.keySet() + ", the CNN has "
                    + sizes.keySet() + " + " + dense.keySet());
        }
        newSparse.forEach(cnn::setWeights);
        cnn.setDenseState(newDense);
    }

    @Override
    public void close() {
        synchronized (DJL_LOCK) {
            if (model != null) {
                model.close();
                model = null;
            }
        }
    }
}

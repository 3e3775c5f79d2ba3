package dev.fedprune.agent.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.proto.v1.TrainingTaskSpec;
import org.junit.jupiter.api.Test;

class LocalStepsTest {
    @Test
    void localStepsCountWhenNoEpochsAreGiven() {
        assertEquals(20, LocalTraining.localSteps(TrainingTaskSpec.newBuilder().setLocalSteps(20).setBatchSize(64).build(), 6000));
    }

    @Test
    void anEpochIsEveryFullBatchOfTheAgentsImages() {
        TrainingTaskSpec oneEpoch = TrainingTaskSpec.newBuilder().setLocalEpochs(1).setLocalSteps(20).setBatchSize(64).build();
        assertEquals(93, LocalTraining.localSteps(oneEpoch, 6000)); // 6000 / 64 = 93.75: 93 full batches
        assertEquals(3 * 93, LocalTraining.localSteps(oneEpoch.toBuilder().setLocalEpochs(3).build(), 6000));
        assertEquals(1, LocalTraining.localSteps(oneEpoch, 40), "fewer images than a batch: one (smaller) batch per epoch");
    }

    @Test
    void aTaskWithNeitherStepsNorEpochsIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LocalTraining.localSteps(TrainingTaskSpec.newBuilder().setBatchSize(64).build(), 100));
        assertTrue(e.getMessage().contains("local_steps and local_epochs are both 0"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> LocalTraining.localSteps(TrainingTaskSpec.newBuilder().setLocalEpochs(-1).setBatchSize(64).build(), 100));
    }
}

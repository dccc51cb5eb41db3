/**
 * A small model without BatchNorm or dropout, registered as `dp-test-cnn` for the data-parallel tests: with neither,
 * R replicas compute exactly the global batch's gradient (up to float rounding), so their losses can be compared
 * with one replica's. Loaded by the test and by each replica thread (TrainOptions.replicaModules).
 */
import { buildCnn } from '../../src/models/cnn';
import { listModels, registerModel } from '../../src/models/registry';

export const DP_TEST_MODEL = 'dp-test-cnn';

if (!listModels().includes(DP_TEST_MODEL))
  registerModel({
    name: DP_TEST_MODEL,
    description: 'test only: 2 conv blocks (8-16, no BatchNorm), dense 32, no dropout',
    create: (o) =>
      buildCnn(
        {
          blocks: [
            { filters: 8, dropout: 0 },
            { filters: 16, dropout: 0 },
          ],
          dense: 32,
          denseDropout: 0,
          batchNorm: false,
        },
        o.inputShape,
        o.numClasses,
        o.seed,
      ),
  });

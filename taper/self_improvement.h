// Self-improvement without task descriptions (§5.2, Figure 3). A user's
// device sees unlabeled images of its task arrive batch by batch:
//   step 0  the standard network (stage 1) predicts the first batch;
//   step s  the k most common pseudo labels so far become the estimated
//           task, the mixer predictor personalizes a network for it, and
//           that network's predictions on the next batch join the counts.
// Pseudo labels come from the mixed network with every classifier row kept
// (so that classes missing from the estimate can still be found); accuracy
// is the personalized network's (classifier selection to the estimated
// task) on all of the task's test images. Only classes are estimated, never
// a domain.
#pragma once

#include <vector>

#include "taper/experiment.h"
#include "taper/stages.h"

namespace taper {

struct SelfImprovementOptions {
  int64_t tasks = 20;   // tasks averaged over, each around a random test image
  int64_t steps = 5;    // batches the task's test images are split into
  uint64_t seed = 7;
};

struct SelfImprovementCurve {
  std::vector<double> accuracy;  // [steps + 1]: the standard network, then each re-personalization
  std::vector<double> recall;    // [steps + 1]: fraction of the true classes in the estimate (step 0: 0)
  double oracle = 0;             // personalized for the true task (the description given)
  double oracle_selection = 0;   // the standard network with classifier selection to the true task
};

SelfImprovementCurve self_improvement(const Experiment& exp, TrainState& standard, const TaperModel& model,
                                      const SelfImprovementOptions& options);

}  // namespace taper

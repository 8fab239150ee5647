// Zero-shot personalization (§5.3, "the price of personalization"): tasks
// of classes the run never trained on. Their descriptions still exist (the
// text embeddings of their names), so the mixer predictor can mix bases for
// them, but the classifier has no rows for them. As in the zero-shot
// literature the paper follows, a linear map from image features to the
// text-embedding space is learned on seen classes (ridge regression onto
// each image's class embedding, features of networks personalized for
// training tasks), and an image is classified within its task by the
// cosine between its mapped features and the task's class embeddings.
//
// Seen classes are the run's (data.classes = N keeps the first N); unseen
// are the dataset's next ones (options.unseen_classes of them, or all). Tasks: the image's class plus k-1 others drawn
// uniformly from the same side of the split. Needs text descriptions.
#pragma once

#include <cstdint>

#include "taper/experiment.h"
#include "taper/stages.h"

namespace taper {

struct ZeroShotOptions {
  int64_t k = 5;                 // classes per evaluation task
  int64_t unseen_classes = 0;    // the dataset's classes after the seen ones to evaluate (0: all of them)
  int64_t map_tasks = 100;       // training tasks whose personalized features fit the map
  int64_t images_per_task = 32;  // training images of each such task
  double ridge = 1.0;            // L2 penalty of the map
  uint64_t seed = 13;
};

struct ZeroShotAccuracy {
  double seen = 0, unseen = 0;  // within-task accuracy on test images of seen / unseen classes
  int64_t seen_classes = 0, unseen_classes = 0;
};

ZeroShotAccuracy zero_shot(const Experiment& exp, const TaperModel& model, const ZeroShotOptions& options);

}  // namespace taper

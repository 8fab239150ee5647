// Figure 4 of the paper. (a) The mixers the predictor gives tasks built
// around two chosen super-categories: if the bases specialise, tasks of the
// same super-category pick similar mixers and tasks of different ones
// differ. (b) The pairwise cosine similarity of the bases' parameters.
#pragma once

#include <string>
#include <vector>

#include "taper/experiment.h"
#include "taper/stages.h"

namespace taper {

struct TaskMixers {
  std::string group;                 // the super-category the task was built around
  std::vector<int64_t> classes;
  std::vector<double> mixers;        // blocks * Q, block after block
};

struct MixerStudy {
  std::vector<TaskMixers> tasks;     // tasks_per_group of the first group, then of the second
  // Mean total-variation distance (half the L1 distance, per block,
  // averaged over blocks) between pairs of tasks of the same group and of
  // different groups: 0 = identical mixers, 1 = disjoint.
  double within = 0, between = 0;
};

// Tasks from the run's sampler around test images whose class lies in each
// named super-category (CIFAR-100's coarse classes); throws naming the
// super-category when the dataset has no such one.
MixerStudy mixers_of_super_categories(const Experiment& exp, const TaperModel& model,
                                      const std::vector<std::string>& super_categories, int64_t tasks_per_group,
                                      uint64_t seed);

// similarity[p][q]: cosine of bases p and q, all parameters as one vector.
// Bases grown from one stage-1 network are all close to it; `centered`
// compares their deviations from the bases' mean instead, which shows how
// they specialised.
std::vector<std::vector<double>> basis_similarity(const Bases& bases, bool centered);

}  // namespace taper

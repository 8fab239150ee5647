// Accuracies of standard networks (stage 1, the baseline, each stage-2 basis,
// their average, its fine-tune), cached by everything that decides them: the
// network's weights, the test data, the architecture and the evaluation
// tasks. Runs of the harness copy the checkpoints they share
// (taper/shared_checkpoints.h), and every run evaluates all of its networks
// (taper/pipeline.h: evaluate_run); with a cache, a checkpoint shared by
// several runs is evaluated once. The results are the same either way.
// TAPER's personalized networks are not cached: each run's are its own.
#pragma once

#include <filesystem>
#include <vector>

#include "taper/evaluate.h"

namespace taper {

class EvaluationCache {
 public:
  // `dir` empty: no cache, every network is evaluated.
  EvaluationCache(const Experiment& exp, const std::vector<Task>& tasks, std::filesystem::path dir);

  // evaluate_standard, read from the cache when this network was evaluated
  // under the same data and tasks before, else computed and written there.
  // A cache file that cannot be read, or whose counts cannot be this test
  // set's, is reported and computed again.
  StandardAccuracy standard(TrainState& net);

  // Every basis on its own with classifier selection, pooled over the bases
  // (with equal test sets this is the mean of the bases' accuracies).
  Accuracy bases_separately(const Bases& bases);

 private:
  bool counts_fit(const Accuracy& a) const;

  const Experiment& exp_;
  const std::vector<Task>& tasks_;
  std::filesystem::path dir_;
  std::string context_;  // the data, network and tasks part of every key
};

}  // namespace taper

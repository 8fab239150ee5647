// A whole run: the stages in order, into one run directory, and reading a
// finished run back for evaluation and personalization.
//
// RUN_DIR holds config.toml (the effective config), one checkpoint per
// stage (stage1, stage2.shardNN, stage3, baseline .safetensors), log.jsonl
// (one line per epoch) and eval.json (the accuracies of the evaluation protocol).
#pragma once

#include <string>

#include "taper/evaluate.h"

namespace taper {

struct TrainedRun {
  Experiment exp;
  TrainState stage1;
  TaperModel taper;
  TrainState baseline;  // empty when config.baseline.epochs == 0
};

// Trains stage 1 -> 2 -> 3 (and the baseline) on `device`, evaluates and
// writes eval.json. The checkpoints do not depend on the device.
void train_run(const RunConfig& config, const std::string& run_dir, bool resume, Device device = Device::cpu());

// Everything a finished run trained; throws naming the missing stage.
// `evaluation`, when given, replaces the run's config for evaluation: it may
// differ only in [tasks] (Table 3 evaluates one run under other tasks).
TrainedRun load_run(const std::string& run_dir, const RunConfig* evaluation = nullptr, Device device = Device::cpu());

struct EvalSummary {
  StandardAccuracy stage1, baseline;  // baseline empty when not trained
  Accuracy taper;
  std::vector<std::string> domains;
  int64_t images = 0, classes = 0;
};
EvalSummary evaluate_run(TrainedRun& run);
// Writes RUN_DIR/<file> (eval.json by default) and prints the accuracies.
void write_eval(const std::string& run_dir, const EvalSummary& summary, const RunConfig& config,
                const std::string& file = "eval.json");

}  // namespace taper

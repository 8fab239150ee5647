// A whole run: the stages in order, into one run directory, and reading a
// finished run back for evaluation and personalization.
//
// RUN_DIR holds config.toml (the effective config), one checkpoint per
// stage (stage1, stage2.shardNN, stage3, baseline .safetensors), log.jsonl
// (one line per epoch) and eval.json (the accuracies of the evaluation protocol).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "taper/evaluate.h"

namespace taper {

struct TrainedRun {
  Experiment exp;
  TrainState stage1;
  Bases stage2;  // the bases before stage 3 (empty under naive training)
  TaperModel taper;
  TrainState baseline;           // empty when config.baseline.epochs == 0
  TrainState finetuned_average;  // empty when config.finetune_average.epochs == 0
  // The descriptions the run was trained with, when an evaluation config
  // describes tasks otherwise (Table 7: trained on class names, evaluated on
  // WordNet definitions); null when they agree.
  std::shared_ptr<const TaskDescriber> trained_describer;
};

// Trains stage 1 -> 2 -> 3 (and the baseline) on `device`, evaluates and
// writes eval.json. The checkpoints do not depend on the device.
// `eval_cache`: evaluate_run's cache folder (empty: none).
void train_run(const RunConfig& config, const std::string& run_dir, bool resume, Device device = Device::cpu(),
               const std::string& eval_cache = "");

// Everything a finished run trained; throws naming the missing stage.
// `evaluation`, when given, replaces the run's config for evaluation: it may
// differ only in [tasks] (Table 3 evaluates one run under other tasks).
TrainedRun load_run(const std::string& run_dir, const RunConfig* evaluation = nullptr, Device device = Device::cpu());

// Table 6's rows beside the main ones: the stage-2 bases each with
// classifier selection (row 5, pooled over bases), their uniform weight
// average (row 6) and its fine-tune (row 7), and TAPER without classifier
// selection (row 11). Members of stages a run did not train stay empty.
struct EvalSummary {
  StandardAccuracy stage1, baseline, uniform_average, finetuned_average;
  Accuracy stage2_selection;
  TaperAccuracy taper;
  // Mean cosine between the mixers from the trained and the evaluation
  // descriptions (mean_mixer_cosine); none when they are the same.
  std::optional<double> mixer_cosine;
  std::vector<std::string> domains;
  int64_t images = 0, classes = 0;
  bool operator==(const EvalSummary&) const = default;  // every count, per domain too
};
// `cache_dir`, when given, caches the standard networks' accuracies
// (taper/evaluation_cache.h): runs sharing a checkpoint evaluate it once.
EvalSummary evaluate_run(TrainedRun& run, const std::string& cache_dir = "");
// Writes RUN_DIR/<file> (eval.json by default) and prints the accuracies.
void write_eval(const std::string& run_dir, const EvalSummary& summary, const RunConfig& config,
                const std::string& file = "eval.json");

}  // namespace taper

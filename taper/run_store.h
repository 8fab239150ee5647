// Where a scale's runs live (a folder per config, named by its hash) and how
// each is trained, evaluated and analysed at most once: a run copies the
// checkpoints other runs share with it (taper/shared_checkpoints.h), caches
// in its folder each evaluation and analysis rows read, and is recorded in
// the ledger (taper/run_ledger.h) as it finishes. What the trainers of
// --jobs and the evaluation of the experiments share.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/device.h"
#include "taper/config.h"

namespace taper {

// Where runs live and train, and the ledger their results go to.
struct RunStore {
  std::filesystem::path runs;    // runs/<scale>: run folders with their checkpoints
  Device device = Device::cpu();
  std::filesystem::path ledger;  // empty: none (taper/run_ledger.h)
  nlohmann::json provenance;     // what the ledger records with a run: commit, machine, command (and the date)
  bool may_train = true;         // false under --no-train
};

// A run's folder under `runs`: the hash of its config.
std::filesystem::path run_dir(const RunConfig& c, const std::filesystem::path& runs);

// Trains the run (which writes its eval.json) unless it is finished, after
// copying the checkpoints that other runs share with it, and records it.
void train_once(const RunConfig& c, const RunStore& store);

// The file in a run's folder that holds its evaluation under `evaluation`:
// eval.json under its own tasks, eval-<hash>.json under others.
std::string eval_file(const RunConfig& c, const RunConfig& evaluation);

// The file in a run's folder that caches an analysis, by (analysis, options, evaluation config).
std::string analysis_file(const std::string& name, const nlohmann::json& options, const RunConfig& evaluation);

// The run's evaluation (eval_file), training it first if needed, or
// evaluating the finished run again under other tasks.
nlohmann::json run_once(const RunConfig& c, const RunConfig& evaluation, const RunStore& store);

// An analysis of a finished run under the evaluation config, cached in the
// run directory (analysis_file).
nlohmann::json analysis_once(const std::string& name, const nlohmann::json& options, const RunConfig& c,
                             const RunConfig& evaluation, const RunStore& store);

}  // namespace taper

// The runs experiments need: each distinct run folder their rows read, over
// every seed, with its config and the result files the rows read in it, and
// whether it must train before they can be read (--plan, --jobs, --no-train).
#pragma once

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "taper/config.h"
#include "taper/experiment_spec.h"
#include "taper/reproduce.h"

namespace taper {

// A run that experiments need, and the result files their rows read in its
// folder (eval.json, and eval_file or analysis_file per row).
struct NeededRun {
  std::filesystem::path dir;
  RunConfig config;
  std::set<std::string> files;
};

// Adds `run` to `runs` unless a run of its folder is there; then only its files.
void add_needed(std::vector<NeededRun>& runs, NeededRun run);

// The distinct runs an experiment needs (its rows for each seed), in row
// order, with their configs and result files.
std::vector<NeededRun> runs_of(const Spec& spec, const ReproduceOptions& o);

// A result file the run's rows read and its folder lacks, if any.
std::string missing_file(const NeededRun& r);

// Whether a run must train before its rows can be read: it never finished
// here, or it came from the ledger without a result file they read (which
// needs its checkpoints). A run trained here computes what it lacks from them.
bool needs_training(const NeededRun& r);

}  // namespace taper

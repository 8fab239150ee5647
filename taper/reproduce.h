// The reproduction harness: one experiment file per paper table or figure
// and scale (experiments/<scale>/<name>.toml; the format is in
// taper/experiment_spec.h), run across seeds, written to
// results/<scale>/<name>.{md,csv,json} beside the paper's numbers with a
// verdict per claim and the command, commit, seeds, machine and wall time
// (taper/result_tables.h).
//
// Rows with the same effective config share one run; a run copies every
// finished checkpoint (stage 1, stage 2, stage 3 or naive, baseline,
// fine-tuned average) whose training settings agree with those of another
// run, finished or not, across experiment files, so no stage is trained
// twice (taper/shared_checkpoints.h), nor evaluated twice (runs/<scale>.evaluations/,
// taper/evaluation_cache.h). Runs live in runs/<scale>/ and resume
// after interruption (taper/run_store.h); with a ledger
// (ReproduceOptions::ledger), finished runs are also recorded without their
// checkpoints in results/<scale>/runs/, which a fresh clone restores. Shards
// (ReproduceOptions::shards) split the runs, in groups that share
// checkpoints, between processes that train at once: a fixed share each, or
// (claims_dir) first come, first served (taper/run_shards.h). --plan prints
// what a scale still needs (taper/training_plan.h).
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "engine/device.h"

namespace taper {

struct ReproduceOptions {
  std::string scale = "tiny";
  std::vector<std::string> only;  // experiment names; empty: all of the scale
  int64_t seeds = 0;              // 0: each file's own
  std::string experiments_dir = "experiments", results_dir = "results", runs_dir = "runs";
  std::string command;            // recorded in the results
  bool plan = false;              // print the runs each experiment needs; train nothing
  bool no_train = false;          // write only the experiments whose runs are all trained
                                  // (evaluating them where a row asks); skip the rest
  std::FILE* plan_out = stdout;   // where the plan goes
  Device device = Device::cpu();  // where every run trains and evaluates
  // shards > 1: train and evaluate only the runs of shard `shard` (0-based)
  // and write no results, so that `shards` processes train at once; a pass
  // without shards then writes the results (cli: --jobs, --shard).
  int64_t shard = 0, shards = 1;
  // Non-empty: the shards take the groups (costliest first) first come, first
  // served, through claim files in this folder, instead of a fixed share
  // each: a shard whose groups were finished before takes others (--jobs).
  std::string claims_dir;
  // Keep the ledger of finished runs in results/<scale>/runs/ (taper/run_ledger.h):
  // record each run as it finishes, and restore the recorded ones missing
  // from runs/<scale>/ before anything else, so that they are not trained again.
  bool ledger = false;
};

// Returns the experiments skipped because their runs need the text model
// (tasks.description = "text" / "definitions") and `make text-model` has not
// been run, or under no_train because some run is not trained yet; each is
// reported on stderr (with how to get the model).
std::vector<std::string> reproduce(const ReproduceOptions& options);

// Throws (ConfigError and the like) where reproduce(options) would before
// training anything: an unknown scale or experiment, a bad experiment file, a
// dataset missing from the data root, no such device. What --jobs checks
// before it starts its processes.
void check_experiments(const ReproduceOptions& options);

}  // namespace taper

// The reproduction harness: one experiment file per paper table or figure
// and scale (experiments/<scale>/<name>.toml), run across seeds, written to
// results/<scale>/<name>.{md,csv,json} beside the paper's numbers with a
// verdict per claim and the command, commit, seeds, machine and wall time.
//
// An experiment file:
//   title = "..."                 what it reproduces
//   base = "base.toml"            a run config, relative to this file
//   seeds = 3                     default seed count (--seeds overrides)
//   tolerance = 0.015             `make regress`: allowed change of any mean
//   extends = "../tiny/x.toml"    take another file's keys (this file's replace them;
//                                 `set` entries add up); bases stay relative to this file
//   set = { "tasks.k" = 20 }      overrides applied to every row (before the row's own)
//   [[row]]                       one table cell
//   label = "TAPER ResNet-8"
//   metric = "taper_personalized" a key of the run's eval.json, or "<analysis>.<key>"
//                                 (taper/analyses.h: self_improvement, mixers, basis_similarity, zero_shot)
//   base = "base-styles.toml"     this row's run config (optional; default: the file's)
//   paper = 95.8                  the paper's value in percent (optional)
//   set = { "model.arch" = "resnet8" }   config overrides (dotted keys)
//   [analysis.<name>]             options of an analysis the rows use (taper/analyses.h);
//                                 its figure goes to results/<scale>/figures/<name>-<analysis>*.svg
//   [[claim]]                     a claim of the paper: row `better` beats row `worse`
//   text = "..."
//   better = "label"
//   worse = "label"
//
// Rows with the same effective config share one run; a run copies every
// finished checkpoint (stage 1, stage 2, stage 3 or naive, baseline,
// fine-tuned average) whose training settings agree with those of another
// run, finished or not, across experiment files, so no stage is trained
// twice. Runs live in runs/<scale>/ and resume after interruption; with a
// ledger (ReproduceOptions::ledger), finished runs are also recorded without
// their checkpoints in results/<scale>/runs/, which a fresh clone restores. Shards
// (ReproduceOptions::shards) split the runs, in groups that share
// checkpoints, between processes that train at once: a fixed share each, or
// (claims_dir) first come, first served.
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
  // Non-empty: the shards take the groups (largest first) first come, first
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

// The experiment names of a scale: the file stems under experiments/<scale>/
// except base and base-* (the scale's run configs) and smoke (a plain run config).
std::vector<std::string> experiment_names(const std::string& experiments_dir, const std::string& scale);

// Every claim of a scale's results (results/<scale>/*.json) as one Markdown
// table: experiment, claim, the paper's numbers, ours, the verdict and the
// command that produced it (the README's closing table).
std::string claims_table(const std::string& results_dir, const std::string& scale);

// Compares freshly written results with committed ones: every row mean must
// stay within the experiment's tolerance. Returns the failures (empty: pass).
std::vector<std::string> compare_results(const std::string& expected_json, const std::string& actual_json);

// The regression check (`reproduce --check`): compare_results for each of the
// options' experiments, committed_dir/<scale>/<name>.json against the fresh
// results. An experiment in `skipped` (reproduce's return) could not run and
// so guarded nothing: it is a failure, not a pass.
std::vector<std::string> regression_failures(const ReproduceOptions& options, const std::vector<std::string>& skipped,
                                             const std::string& committed_dir);

}  // namespace taper

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
//   [[row]]                       one table cell
//   label = "TAPER ResNet-8"
//   metric = "taper_personalized" a key of the run's eval.json
//   paper = 95.8                  the paper's value in percent (optional)
//   set = { "model.arch" = "resnet8" }   config overrides (dotted keys)
//   [[claim]]                     a claim of the paper: row `better` beats row `worse`
//   text = "..."
//   better = "label"
//   worse = "label"
//
// Rows with the same effective config share one run; runs whose stage-1 (and
// stage-2) settings agree share those checkpoints (copied), so nothing is
// trained twice. Runs live in runs/<scale>/ and resume after interruption.
#pragma once

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
  Device device = Device::cpu();  // where every run trains and evaluates
};

void reproduce(const ReproduceOptions& options);

// The experiment names of a scale: the file stems under experiments/<scale>/
// except base and base-* (the scale's run configs) and smoke (a plain run config).
std::vector<std::string> experiment_names(const std::string& experiments_dir, const std::string& scale);

// Compares freshly written results with committed ones: every row mean must
// stay within the experiment's tolerance. Returns the failures (empty: pass).
std::vector<std::string> compare_results(const std::string& expected_json, const std::string& actual_json);

}  // namespace taper

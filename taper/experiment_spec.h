// The experiment file format: one file per paper table or figure and scale
// (experiments/<scale>/<name>.toml), read into a Spec, and the run config of
// each of its rows for each seed (the orchestration is taper/reproduce.h).
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
#pragma once

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "taper/config.h"
#include "taper/toml.h"

namespace taper {

struct Row {
  std::string label, metric;
  std::string base;  // this row's run config instead of the file's (Table 6 spans three datasets)
  double paper = NAN;
  toml::table set;
  toml::table eval;  // [tasks] overrides for evaluation only (Table 3's cross-evaluation)
};

struct Claim {
  std::string text, better, worse;
};

struct Spec {
  std::string name, path, title, base;
  int64_t seeds = 1;
  double tolerance = 0.015;
  std::vector<Row> rows;
  std::vector<Claim> claims;
  nlohmann::json analysis;  // [analysis.<name>] option tables
};

// "self_improvement.step3" -> {"self_improvement", "step3"}; eval.json metrics -> {"", metric}.
std::pair<std::string, std::string> split_metric(const std::string& metric);

// Throws ConfigError "<path>: <what>": an experiment file's error.
[[noreturn]] void spec_error(const std::string& path, const std::string& what);

// The row's training config; with `for_eval`, its eval overrides applied too.
RunConfig effective_config(const Spec& spec, const Row& row, int64_t seed, bool for_eval = false);

// A file's [analysis.<name>] options (none: {}); they name the analysis's cache file.
nlohmann::json analysis_options(const Spec& spec, const std::string& analysis);

// `requested` seeds (--seeds) when positive, else the experiment file's own.
int64_t seeds_of(const Spec& spec, int64_t requested);

// The experiment names of a scale: the file stems under experiments/<scale>/
// except base and base-* (the scale's run configs) and smoke (a plain run config).
std::vector<std::string> experiment_names(const std::string& experiments_dir, const std::string& scale);

// The experiments `only` names (empty: all of the scale), every file read
// first: a bad one fails before any training.
std::vector<Spec> read_specs(const std::string& experiments_dir, const std::string& scale,
                             const std::vector<std::string>& only);

}  // namespace taper

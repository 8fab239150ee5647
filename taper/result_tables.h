// The results of the experiments: each experiment's claims judged and its
// results/<scale>/<name>.{md,csv,json} written, every claim of a scale as one
// table (--claims), and fresh results compared with committed ones (--check).
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "taper/experiment_spec.h"
#include "taper/reproduce.h"

namespace taper {

// The verdict on each of the experiment's claims, from its rows' means and
// standard deviations over the seeds.
nlohmann::json judge(const Spec& spec, const nlohmann::json& rows);

// Writes an experiment's results document `doc` into `dir` as <name>.json,
// <name>.csv and <name>.md.
void write_outputs(const Spec& spec, const nlohmann::json& doc, const std::filesystem::path& dir);

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

// The harness's analyses beyond eval.json, each run on a finished run:
//   self_improvement   Figure 3 (taper/self_improvement.h): metrics step0..stepS,
//                      recall1..recallS, oracle, oracle_selection
//   mixers             Figure 4a (taper/mixer_analysis.h): metrics within, between
//   basis_similarity   Figure 4b: metrics offdiagonal, offdiagonal_centered
//   zero_shot          §5.3 (taper/zero_shot.h): metrics seen, unseen; no figure
// Metrics are fractions like eval.json's; an experiment row names one as
// "<analysis>.<metric>". Options come from the experiment file's
// [analysis.<name>] table.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "taper/pipeline.h"

namespace taper {

bool is_analysis(const std::string& name);

// {"metrics": {...}, "figure": {...}}; throws naming an unknown option.
nlohmann::json run_analysis(const std::string& name, TrainedRun& run, const nlohmann::json& options);

// Writes `<path_stem>.svg` (and more files for some analyses, each named
// `<path_stem>-<part>.svg`) from the results of every seed; returns the paths.
std::vector<std::string> draw_analysis(const std::string& name, const std::vector<nlohmann::json>& per_seed,
                                       const std::string& path_stem);

}  // namespace taper

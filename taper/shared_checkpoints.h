// Which finished checkpoints a run copies from another run instead of
// training them: each kind (stage 1, stage 2, stage 3 or naive, baseline,
// fine-tuned average) is named by the part of the config its training
// depends on, so that runs differing only in later stages or in evaluation,
// in one experiment file or across files, never train a stage twice.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "taper/config.h"

namespace taper {

// What each checkpoint's training depends on, as config text: two runs
// whose keys agree train that checkpoint identically. (Loader workers do
// not change batches, and evaluation tasks do not change training.)
RunConfig stage1_part(const RunConfig& c);
RunConfig stage2_part(const RunConfig& c);
std::string baseline_key(const RunConfig& c);
std::string finetune_key(const RunConfig& c);

// Stage 3 (or the naive stage) depends on everything but the baseline, the
// fine-tuned average and the evaluation tasks.
std::string taper_key(const RunConfig& c);

// The run directories under `runs` with a config.toml, finished or not, with their configs.
std::vector<std::pair<std::filesystem::path, RunConfig>> runs_in(const std::filesystem::path& runs);

// A run directory's checkpoint files of one kind (kShared's `prefix`), those
// holding at least `epochs` epochs each (0: all of them).
std::vector<std::filesystem::path> checkpoints(const std::filesystem::path& dir, const std::string& prefix,
                                               int64_t epochs);

// Copies the finished checkpoints of other runs whose training of them
// agrees with this run's, so that rows differing only in later stages (or
// only in evaluation) never train a stage twice. A run interrupted, or
// abandoned when its later stages were reconfigured, still lends the stages
// it finished.
void share_stages(const std::filesystem::path& runs, const RunConfig& c, const std::filesystem::path& dir);

}  // namespace taper

// The epoch loop every training stage shares: SGD with the stage's
// schedule, a progress bar, a JSONL log line per epoch, a divergence check,
// and an atomic checkpoint after every epoch so that `--resume` continues
// to the same weights an uninterrupted run reaches.
//
// This is the one place a gradient step happens (the place data-parallel
// all-reduce would go).
#pragma once

#include <functional>
#include <map>
#include <string>

#include "taper/checkpoint.h"
#include "taper/config.h"

namespace taper {

// What one optimizer step saw, for the progress bar and the log.
struct StepOutcome {
  float loss = 0.0f;
  int64_t correct = 0, images = 0;
};

struct StagePlan {
  std::string name;  // "stage1", "stage2.shard03", "stage3", "baseline": names the checkpoint file
  StageConfig config;
  int64_t steps_per_epoch = 0;
  std::function<void(int64_t epoch)> begin_epoch;
  // Forward and backward of one batch (gradients accumulate into the
  // state's parameters); the runner zeroes gradients before and steps after.
  std::function<StepOutcome()> step;
};

// The checkpoint of a stage in a run directory.
std::string stage_file(const std::string& run_dir, const std::string& stage);

// Loads the stage's checkpoint into state when there is one; true when it
// holds all the stage's epochs.
bool load_finished_stage(const std::string& run_dir, const StagePlan& plan, TrainState& state);

// Trains `state` through the plan's epochs, starting after the epochs its
// checkpoint already holds (when resume is set and one exists; without
// resume an existing checkpoint is an error, so that no run is overwritten
// by accident). Throws DivergenceError (taper/divergence.h) on a NaN or
// infinity in a loss or gradient, naming the stage, epoch, step and
// parameter; the last good checkpoint stays on disk.
void run_stage(const std::string& run_dir, const StagePlan& plan, TrainState& state, bool resume,
               const std::map<std::string, std::string>& metadata);

}  // namespace taper

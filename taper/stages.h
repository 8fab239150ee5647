// The paper's three-stage training (§3.4) and its baselines. Each function
// resumes from its checkpoints in run_dir and returns the trained state.
//
//   stage 1 (stage1.cpp)  one network on all classes: the standard baseline's
//                         recipe, also used for the 125-epoch baselines
//   stage 2 (stage2.cpp)  Q copies of it, each fine-tuned on one shard of the
//                         classes (or one domain): the initial bases
//   stage 3 (stage3.cpp)  bases and mixer predictor jointly on sampled tasks
//   naive                 stage 3's objective from differently initialised
//                         bases (the paper's "naive approach")
#pragma once

#include <map>
#include <string>

#include "taper/checkpoint.h"
#include "taper/experiment.h"

namespace taper {

struct StageContext {
  const Experiment& exp;
  std::string run_dir;
  bool resume = false;
  std::map<std::string, std::string> metadata;  // written into every checkpoint
  bool load_only = false;  // load finished stages; an unfinished one is an error
};

// Throws, naming the checkpoint, when ctx.load_only (a stage that should be
// finished is not).
void require_trainable(const StageContext& ctx, const std::string& stage);

// The run's architecture, freshly initialised from the run's seed.
TrainState fresh_network(const Experiment& exp);

// `start` trained with cross-entropy over all classes for `stage.epochs`
// (config.stage1 or config.baseline from fresh_network, config.finetune_average
// from the stage-2 weight average); `name` names its checkpoint.
TrainState train_standard(const StageContext& ctx, const std::string& name, const StageConfig& stage,
                          TrainState start);

// Q bases fine-tuned from the stage-1 network, one shard each.
Bases train_stage2(const StageContext& ctx, const TrainState& stage1);

// The classes of shard q of Q: contiguous chunks of the class list, as the
// paper shards ImageNet's 1000 classes into 10 chunks of 100.
std::vector<int64_t> shard_classes(int64_t num_classes, int64_t shard, int64_t shards);

// Bases and mixer predictor after stage 3. `initial` holds the bases to
// start from (stage 2's, or random ones for the naive approach).
struct TaperModel {
  Bases bases;
  TensorMap predictor_params, predictor_buffers;
};
TaperModel train_stage3(const StageContext& ctx, Bases initial, const std::string& name, const StageConfig& stage);

// Q independently initialised bases (naive end-to-end training).
Bases random_bases(const Experiment& exp);

}  // namespace taper

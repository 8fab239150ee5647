// Every knob of a TAPER run, read from one TOML file. Unknown keys, wrong
// types and impossible values are rejected before any training, naming the
// key ("stage2.epochs") and what was expected.
//
// A complete config (defaults shown; every key is optional):
//
//   seed = 0
//   [data]
//   dataset = "cifar100"        # cifar100 | cifar100-styles | pacs | imagenet |
//                               # inaturalist2021 | domainnet (data/catalog.h)
//   classes = 0                 # keep the first N classes (0: all)
//   train_per_class = 0         # images per class kept for training (0: all)
//   test_per_class = 0          # likewise for testing
//   augment = true              # augment while training: CIFAR-style padded crop + flip,
//                               # or for imagenet / inaturalist2021 / domainnet a
//                               # random-resized crop + flip (false: evaluation's preprocessing)
//   image_size = 0              # side of the network input for imagenet / inaturalist2021 /
//                               # domainnet (0: 224, the paper's); evaluation resizes the
//                               # shorter side to round(size * 256 / 224) and center-crops.
//                               # Must be 0 for the other datasets (used at their own size)
//   workers = 2                 # loader threads
//   [model]
//   arch = "resnet20"           # see nn/resnet.h
//   width = 1.0
//   stem = "cifar"
//   [tasks]
//   sampler = "wordnet-nearest" # wordnet-nearest | super-category | domain | uniform
//   k = 20                      # classes per task (fixed k)
//   k_min = 0                   # dynamic k (Table 3): both >= 1, k_min <= k_max, and
//   k_max = 0                   # each task draws k from [k_min, k_max]; tasks.k is then
//                               # ignored. Both 0: fixed k. Exactly one 0 is an error.
//   description = "bow"         # bow | text (class-name prompt ensembles through
//                               # all-MiniLM-L6-v2; `make text-model`) | definitions
//                               # (WordNet definitions, cifar100; taper/task_description.h)
//   eval_seed = 1               # fixes the evaluation tasks
//   [taper]
//   bases = 10                  # Q
//   mixers = "block"            # block (one per stage) | single
//   stem_mixer = "first-stage"  # first-stage | own
//   classifier_mixer = "last-stage"  # last-stage | own
//   bn_stats = "mixed"          # mixed (per basis, mixed like weights) | shared
//   predictor_hidden = 64       # width of the 4-layer MLP
//   groups = 8                  # task groups per stage-3 batch
//   shards = "classes"          # stage-2 shards: classes | domains
//   training = "three-stage"    # three-stage (§3.4) | naive (stage 3's objective from
//                               # random bases for stage1 + stage2 + stage3 epochs)
//   [optim]                     # defaults for every stage (the paper's)
//   batch = 128
//   lr = 0.1
//   momentum = 0.9
//   weight_decay = 1e-4
//   schedule = "step"           # step | cosine | constant
//   decay_epochs = [30, 60, 90] # step decay milestones, in epochs of the stage
//   gamma = 0.1
//   warmup_epochs = 0
//   [stage1] / [stage2] / [stage3] / [baseline]
//   epochs = 100 / 5 / 20 / 125 # plus any [optim] key, overriding it for that stage
//   [finetune_average]          # Table 6 row 7: the uniform weight average of the
//   epochs = 0                  # stage-2 bases fine-tuned on all classes without task
//                               # descriptions (0: not trained); plus any [optim] key
//
// Whether k fits the dataset's class count needs the data and is checked once
// the dataset is loaded, not here.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace taper {

struct OptimConfig {
  int64_t batch = 128;
  double lr = 0.1, momentum = 0.9, weight_decay = 1e-4;
  std::string schedule = "step";
  std::vector<int64_t> decay_epochs{30, 60, 90};
  double gamma = 0.1;
  int64_t warmup_epochs = 0;
  bool operator==(const OptimConfig&) const = default;
};

// A stage's optim is the effective one: [optim] with the stage's overrides.
struct StageConfig {
  int64_t epochs = 0;
  OptimConfig optim;
  bool operator==(const StageConfig&) const = default;
};

struct DataConfig {
  std::string dataset = "cifar100";
  int64_t classes = 0, train_per_class = 0, test_per_class = 0;
  bool augment = true;
  int64_t image_size = 0;
  int64_t workers = 2;
  bool operator==(const DataConfig&) const = default;
};

struct ModelConfig {
  std::string arch = "resnet20";
  double width = 1.0;
  std::string stem = "cifar";
  bool operator==(const ModelConfig&) const = default;
};

struct TasksConfig {
  std::string sampler = "wordnet-nearest";
  int64_t k = 20, k_min = 0, k_max = 0;
  std::string description = "bow";
  uint64_t eval_seed = 1;
  bool operator==(const TasksConfig&) const = default;
};

struct TaperConfig {
  int64_t bases = 10;
  std::string mixers = "block", stem_mixer = "first-stage", classifier_mixer = "last-stage";
  std::string bn_stats = "mixed", shards = "classes", training = "three-stage";
  int64_t predictor_hidden = 64, groups = 8;
  bool operator==(const TaperConfig&) const = default;
};

struct RunConfig {
  uint64_t seed = 0;  // seeds are TOML integers, so at most 2^63 - 1
  DataConfig data;
  ModelConfig model;
  TasksConfig tasks;
  TaperConfig taper;
  StageConfig stage1{100, {}}, stage2{5, {}}, stage3{20, {}}, baseline{125, {}}, finetune_average{0, {}};
  std::string source;  // the file it came from, for messages
  bool operator==(const RunConfig&) const = default;
};

// Parses TOML text; `origin` names it in errors. Throws ConfigError.
RunConfig parse_config(const std::string& toml_text, const std::string& origin);
RunConfig load_config(const std::string& path);
// The config as TOML (every key, defaults included): saved in each run dir.
// parse_config(to_toml(c), c.source) == c. [optim] is not written: each
// stage table spells out its effective optimizer settings instead.
std::string to_toml(const RunConfig& config);

// The part of a config that decides a network's shape and the data it
// sees: seed, [data] and [model], with every other table at its default.
// data.workers is reset too: loader threads do not change batches. What
// keys shared checkpoints (taper/shared_checkpoints.h) and cached
// evaluations (taper/evaluation_cache.h) start from.
RunConfig data_and_network(const RunConfig& config);

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace taper

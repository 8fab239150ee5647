// --plan: the trainings each run needs (one per checkpoint kind, named by the
// key runs share it under, taper/shared_checkpoints.h), counted once however
// many runs share them, and the plan: per experiment its runs, finished or
// not, then what the scale still costs in epochs and hours.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "taper/config.h"
#include "taper/experiment_spec.h"
#include "taper/reproduce.h"

namespace taper {

// The trainings a run needs, one per checkpoint kind it trains, each named by
// the key two runs share it under (share_stages) and costing `epochs` passes
// over `what` (the dataset and network it trains).
struct Training {
  std::string kind, key, what;
  int64_t epochs;
  std::string prefix;     // its checkpoint files (kShared's prefix, taper/shared_checkpoints.cpp)
  int64_t files = 1;      // how many: stage 2 has one per basis
};

std::vector<Training> trainings(const RunConfig& c);

using NetworkKind = std::pair<std::string, std::string>;  // (network_of, training kind)
using TrainingId = std::pair<std::string, std::string>;   // (kind, key): one checkpoint shared by every run needing it

struct Cost {
  int64_t trainings = 0, epochs = 0;
};

// The distinct trainings `runs` need, each counted once however many runs
// share it and skipped when in `done`, summed per network and kind.
std::map<NetworkKind, Cost> distinct_trainings(const std::vector<RunConfig>& runs, const std::set<TrainingId>& done);

// Per experiment: rows, seeds, and the distinct runs they need, finished or
// not; then the scale's distinct runs overall (experiments share runs) and
// the trainings the unfinished ones still need.
void print_plan(const std::vector<Spec>& specs, const ReproduceOptions& o);

}  // namespace taper

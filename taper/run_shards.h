// --jobs / --shard: the runs of the experiments split between processes that
// train at once, in groups of runs that share a checkpoint, so that no group
// waits for another's training nor trains one twice; each process takes a
// fixed share of the groups, or (claims_dir) the next group no other has,
// the costliest first.
#pragma once

#include <vector>

#include "taper/experiment_spec.h"
#include "taper/reproduce.h"
#include "taper/run_store.h"

namespace taper {

// Trains (and evaluates) this shard's runs; results are for the pass after.
// With o.claims_dir, a group is the first asking shard's, so a shard that
// finishes early (its groups were trained before, or cheap) takes the next.
void train_shard(const std::vector<Spec>& specs, const RunStore& store, const ReproduceOptions& o);

// --plan's last part, to o.plan_out: the groups in the order the shards take
// them, each with its runs, epochs, share of the cost and networks.
void print_groups(const std::vector<Spec>& specs, const ReproduceOptions& o);

}  // namespace taper

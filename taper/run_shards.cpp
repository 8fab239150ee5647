#include "taper/run_shards.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <map>
#include <set>
#include <stdexcept>
#include <unistd.h>

#include "data/catalog.h"
#include "taper/experiment.h"
#include "taper/needed_runs.h"
#include "taper/run_ledger.h"
#include "taper/sentence_encoder.h"
#include "taper/training_plan.h"

namespace taper {

namespace fs = std::filesystem;

namespace {

// Runs that share a checkpoint, directly or through others: a group never
// waits for another's training, nor trains one twice. Runs sharing stage 1
// share every later stage's group; a baseline, which does not depend on
// stage 1, joins the groups of the runs it serves.
struct RunGroup {
  std::vector<NeededRun> runs;
  int64_t epochs = 0;  // of its distinct trainings
  double cost = 0.0;   // their multiply-adds, training_cost()'s
  double share = 0.0;  // of all the groups' cost
};

// What a training costs the machine, for ordering the groups: its epochs x
// training images x a forward pass's multiply-adds an image, from the config
// and the dataset's nominal size alone (nothing loaded, nothing measured:
// every shard computes the same order). A ResNet-20 epoch costs 3.3
// ResNet-8 epochs, a PACS epoch (8,003 images at 64 px) 0.64.
double training_cost(const RunConfig& c, int64_t epochs) {
  const NominalSize n = nominal_size(c.data.dataset);
  const int64_t classes = c.data.classes > 0 ? std::min(c.data.classes, n.classes) : n.classes;
  const int64_t per_class =
      c.data.train_per_class > 0 ? std::min(c.data.train_per_class, n.train_per_class) : n.train_per_class;
  const int64_t side = variable_image_size(c.data.dataset) ? crop_size(c) : n.side;
  return static_cast<double>(epochs) * static_cast<double>(classes * per_class) *
         static_cast<double>(make_arch(c, classes).multiply_adds(side, side));
}

// The experiments' distinct runs in groups, the costliest first (ties in the
// order the experiments first need them), from the configs alone, never from
// what is finished: every shard's process computes the same list. Costliest
// first, because the groups are whole: a costly one taken last (a ResNet-20
// baseline of Table 2: 13 epochs, more time than a PACS group's 42) would
// leave the other processes idle while it trains.
std::vector<RunGroup> run_groups(const std::vector<Spec>& specs, const ReproduceOptions& o) {
  std::vector<NeededRun> runs;
  for (const Spec& spec : specs) {
    for (NeededRun& r : runs_of(spec, o)) add_needed(runs, std::move(r));
  }
  // Union-find over the runs, each set rooted at its first run.
  std::vector<size_t> root(runs.size());
  for (size_t i = 0; i < runs.size(); ++i) root[i] = i;
  const auto find = [&](size_t i) {
    while (root[i] != i) i = root[i] = root[root[i]];
    return i;
  };
  std::map<TrainingId, size_t> first_user;
  for (size_t i = 0; i < runs.size(); ++i) {
    for (const Training& t : trainings(runs[i].config)) {
      const auto [it, added] = first_user.emplace(TrainingId{t.kind, t.key}, i);
      const size_t a = find(i), b = find(it->second);
      if (!added) root[std::max(a, b)] = std::min(a, b);
    }
  }
  std::map<size_t, size_t> group_of_root;
  std::vector<RunGroup> groups;
  for (size_t i = 0; i < runs.size(); ++i) {
    const auto [it, added] = group_of_root.emplace(find(i), groups.size());
    if (added) groups.emplace_back();
    RunGroup& g = groups[it->second];
    g.runs.push_back(runs[i]);
    for (const Training& t : trainings(runs[i].config)) {
      if (t.epochs <= 0 || first_user.at({t.kind, t.key}) != i) continue;  // counted once, at its first run
      g.epochs += t.epochs;
      g.cost += training_cost(runs[i].config, t.epochs);
    }
  }
  std::stable_sort(groups.begin(), groups.end(), [](const RunGroup& a, const RunGroup& b) { return a.cost > b.cost; });
  double total = 0.0;
  for (const RunGroup& g : groups) total += g.cost;
  for (RunGroup& g : groups) g.share = total > 0.0 ? g.cost / total : 0.0;
  return groups;
}

// The groups of shard `o.shard` of `o.shards`: each dealt, costliest first,
// to the shard with the least cost so far.
std::vector<size_t> dealt_groups(const std::vector<RunGroup>& groups, const ReproduceOptions& o) {
  std::vector<double> load(o.shards, 0.0);
  std::vector<size_t> mine;
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto least = std::min_element(load.begin(), load.end()) - load.begin();
    load[least] += groups[g].cost;
    if (least == o.shard) mine.push_back(g);
  }
  return mine;
}

// Whether this process is the first to ask for group `g`: the claim is a
// file made with O_EXCL in `claims`, which only one process can create.
bool claim_group(const fs::path& claims, size_t g) {
  const fs::path file = claims / ("group-" + std::to_string(g));
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd >= 0) {
    ::close(fd);
    return true;
  }
  if (errno == EEXIST) return false;
  throw std::runtime_error(file.string() + ": cannot claim the group: " + std::strerror(errno));
}

void train_group(const RunGroup& group, size_t g, size_t groups, const RunStore& store, const ReproduceOptions& o) {
  std::fprintf(stderr, "reproduce: shard %lld, group %zu of %zu: %zu runs, %lld epochs, %.1f%% of the training\n",
               static_cast<long long>(o.shard), g + 1, groups, group.runs.size(),
               static_cast<long long>(group.epochs), 100.0 * group.share);
  for (size_t i = 0; i < group.runs.size(); ++i) {
    const NeededRun& r = group.runs[i];
    std::fprintf(stderr, "reproduce: shard %lld, run %zu of %zu (%s)\n", static_cast<long long>(o.shard), i + 1,
                 group.runs.size(), r.dir.c_str());
    // Here, beside the other shards, rather than in the serial pass after them.
    const std::string lacking = is_restored(r.dir) ? missing_file(r) : "";
    if (!lacking.empty()) {
      std::fprintf(stderr, "reproduce: training again: %s came from the ledger without %s\n", r.dir.c_str(),
                   lacking.c_str());
      forget_restored(r.dir);
    }
    try {
      train_once(r.config, store);
    } catch (const TextModelMissing& e) {
      std::fprintf(stderr, "reproduce: skipped %s: %s\n", r.dir.c_str(), e.what());
    }
  }
}

}  // namespace

void print_groups(const std::vector<Spec>& specs, const ReproduceOptions& o) {
  const std::vector<RunGroup> groups = run_groups(specs, o);
  std::fprintf(o.plan_out, "--jobs and --shard take the runs in %zu groups sharing checkpoints, costliest first "
               "(epochs x training images x multiply-adds):\n", groups.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    std::set<std::string> networks;
    for (const NeededRun& r : groups[g].runs) {
      for (const Training& t : trainings(r.config)) networks.insert(t.what);
    }
    std::string names;
    for (const std::string& n : networks) names += (names.empty() ? "" : "; ") + n;
    std::fprintf(o.plan_out, "  %3zu. %3zu runs, %4lld epochs, %5.1f%%  %s\n", g + 1, groups[g].runs.size(),
                 static_cast<long long>(groups[g].epochs), 100.0 * groups[g].share, names.c_str());
  }
}

void train_shard(const std::vector<Spec>& specs, const RunStore& store, const ReproduceOptions& o) {
  const std::vector<RunGroup> groups = run_groups(specs, o);
  if (o.claims_dir.empty()) {
    for (size_t g : dealt_groups(groups, o)) train_group(groups[g], g, groups.size(), store, o);
    return;
  }
  fs::create_directories(o.claims_dir);
  for (size_t g = 0; g < groups.size(); ++g) {
    if (claim_group(o.claims_dir, g)) train_group(groups[g], g, groups.size(), store, o);
  }
}

}  // namespace taper

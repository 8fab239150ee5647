#include "taper/training_plan.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "taper/needed_runs.h"
#include "taper/run_ledger.h"
#include "taper/shared_checkpoints.h"

namespace taper {

namespace fs = std::filesystem;

namespace {

std::string network_of(const RunConfig& c) {
  return c.data.dataset + " " + c.model.arch + " width " + std::to_string(c.model.width).substr(0, 4);
}

// Whether an unfinished run's directory holds all of a training's checkpoint
// files, each with all its epochs (the files share_stages would copy).
bool holds_training(const fs::path& dir, const Training& t) {
  return static_cast<int64_t>(checkpoints(dir, t.prefix, t.epochs).size()) >= t.files;
}

// Seconds per pass over the training set, per network and kind: the
// fastest epoch in the logs of the scale's runs so far (a stage-2 shard's
// epoch is 1/Q of a pass), so that epochs slowed by other work on the
// machine do not inflate the estimate.
std::map<NetworkKind, double> measured_pass_seconds(const fs::path& runs) {
  std::map<NetworkKind, double> fastest;
  for (const auto& [dir, c] : runs_in(runs)) {
    std::ifstream log(dir / "log.jsonl");  // none yet: no lines
    for (std::string line; std::getline(log, line);) {
      const auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.contains("stage") || !j.contains("seconds")) continue;
      const std::string stage = j["stage"].get<std::string>(), kind = stage.substr(0, stage.find('.'));
      const double passes = kind == "stage2" ? 1.0 / static_cast<double>(std::max<int64_t>(1, c.taper.bases)) : 1.0;
      const NetworkKind nk{network_of(c), kind == "finetune_average" ? "finetune" : kind};
      const double per_pass = j["seconds"].get<double>() / passes;
      const auto it = fastest.find(nk);
      if (it == fastest.end() || per_pass < it->second) fastest[nk] = per_pass;
    }
  }
  return fastest;
}

// The (kind, key) of every training that a run under `runs` holds, finished
// or (for an unfinished run) with all its epochs: share_stages copies those
// instead of training them again. A run restored from the ledger holds none.
std::set<TrainingId> finished_trainings(const fs::path& runs) {
  std::set<TrainingId> done;
  for (const auto& [dir, c] : runs_in(runs)) {
    const bool finished = fs::exists(dir / "eval.json");
    for (const Training& t : trainings(c)) {
      if ((finished && !is_restored(dir)) || holds_training(dir, t)) done.insert({t.kind, t.key});
    }
  }
  return done;
}

// The distinct trainings of unfinished runs that no run holds yet,
// summed per network and kind: what the scale still costs once every shared
// checkpoint is trained once, in hours where the scale's logs have measured
// that kind of epoch (at the fastest epoch measured: a lower bound on an
// otherwise idle machine).
void print_training_cost(const std::vector<RunConfig>& todo, const fs::path& runs, std::FILE* out) {
  const std::map<NetworkKind, Cost> distinct = distinct_trainings(todo, finished_trainings(runs));
  const std::map<NetworkKind, double> per_pass = measured_pass_seconds(runs);
  std::fprintf(out, "distinct trainings still to do (epochs over each network's training set):%s\n",
               distinct.empty() ? " none" : "");
  double hours = 0.0;
  int64_t unmeasured = 0;
  for (const auto& [nk, cost] : distinct) {
    std::fprintf(out, "  %-34s %-9s %3lld trainings, %5lld epochs", nk.first.c_str(), nk.second.c_str(),
                 static_cast<long long>(cost.trainings), static_cast<long long>(cost.epochs));
    const auto m = per_pass.find(nk);
    if (m == per_pass.end()) {
      std::fprintf(out, "  (no epoch of this kind measured yet)\n");
      unmeasured += cost.epochs;
      continue;
    }
    hours += cost.epochs * m->second / 3600.0;
    std::fprintf(out, "  %6.1f h at %.0f s per epoch\n", cost.epochs * m->second / 3600.0, m->second);
  }
  if (distinct.empty()) return;
  const std::string missing = std::to_string(unmeasured) + " epochs not measured yet";
  if (unmeasured > 0 && hours == 0.0) {
    std::fprintf(out, "  no hours yet: %s (no run of the scale has logged an epoch of these kinds)\n", missing.c_str());
    return;
  }
  std::fprintf(out, "  about %.1f h of training at the fastest measured epochs (evaluation not included)%s\n", hours,
               unmeasured > 0 ? (", plus " + missing).c_str() : "");
}

}  // namespace

std::vector<Training> trainings(const RunConfig& c) {
  const std::string what = network_of(c);
  std::vector<Training> t{{"stage1", to_toml(stage1_part(c)), what, c.stage1.epochs, "stage1."}};
  if (c.taper.training == "naive") {
    t.push_back({"naive", taper_key(c), what, c.stage1.epochs + c.stage2.epochs + c.stage3.epochs, "naive."});
  } else {
    // Stage 2 trains each basis on its shard: the bases together pass over the training set stage2.epochs times.
    t.push_back({"stage2", to_toml(stage2_part(c)), what, c.stage2.epochs, "stage2.", c.taper.bases});
    t.push_back({"stage3", taper_key(c), what, c.stage3.epochs, "stage3."});
    if (c.finetune_average.epochs > 0)
      t.push_back({"finetune", finetune_key(c), what, c.finetune_average.epochs, "finetune_average."});
  }
  if (c.baseline.epochs > 0) t.push_back({"baseline", baseline_key(c), what, c.baseline.epochs, "baseline."});
  return t;
}

std::map<NetworkKind, Cost> distinct_trainings(const std::vector<RunConfig>& runs, const std::set<TrainingId>& done) {
  std::set<TrainingId> counted = done;
  std::map<NetworkKind, Cost> cost;
  for (const RunConfig& c : runs) {
    for (const Training& t : trainings(c)) {
      if (t.epochs <= 0 || !counted.insert({t.kind, t.key}).second) continue;
      Cost& k = cost[{t.what, t.kind}];
      ++k.trainings;
      k.epochs += t.epochs;
    }
  }
  return cost;
}

void print_plan(const std::vector<Spec>& specs, const ReproduceOptions& o) {
  std::FILE* out = o.plan_out;
  const fs::path runs = fs::path(o.runs_dir) / o.scale;
  std::set<fs::path> all, all_done, again;
  std::vector<RunConfig> todo;  // a run two experiments need may be here twice: its trainings count once
  for (const Spec& spec : specs) {
    const int64_t seeds = seeds_of(spec, o.seeds);
    std::set<fs::path> needed, done;
    for (const NeededRun& r : runs_of(spec, o)) {
      needed.insert(r.dir);
      if (!needs_training(r)) {
        done.insert(r.dir);
      } else {
        todo.push_back(r.config);
        if (is_restored(r.dir)) again.insert(r.dir);
      }
    }
    all.insert(needed.begin(), needed.end());
    all_done.insert(done.begin(), done.end());
    std::fprintf(out, "%-10s %3zu rows x %lld seeds: %2zu runs, %2zu finished  (%s)\n", spec.name.c_str(),
                 spec.rows.size(), static_cast<long long>(seeds), needed.size(), done.size(), spec.title.c_str());
  }
  for (const fs::path& d : again) all_done.erase(d);  // finished for one experiment, not for another
  const auto restored = std::count_if(all_done.begin(), all_done.end(), [](const fs::path& d) { return is_restored(d); });
  std::fprintf(out, "scale %s: %zu distinct runs, %zu finished, under %s", o.scale.c_str(), all.size(),
               all_done.size(), runs.c_str());
  if (restored > 0) std::fprintf(out, " (%td of them restored from the ledger, without checkpoints)", restored);
  if (!again.empty()) {
    std::fprintf(out, "; %zu more restored but lacking a result file their rows read, to train again", again.size());
  }
  std::fputc('\n', out);
  print_training_cost(todo, runs, out);
}

}  // namespace taper

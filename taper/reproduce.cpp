#include "taper/reproduce.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "data/catalog.h"
#include "nn/resnet.h"
#include "taper/analyses.h"
#include "taper/config.h"
#include "taper/experiment_spec.h"
#include "taper/needed_runs.h"
#include "taper/provenance.h"
#include "taper/result_tables.h"
#include "taper/run_ledger.h"
#include "taper/run_shards.h"
#include "taper/run_store.h"
#include "taper/sentence_encoder.h"
#include "taper/training_plan.h"

namespace taper {

namespace fs = std::filesystem;

namespace {

// Seconds of training recorded in a run's epoch log (reused runs cost
// nothing now, but their numbers cost this much once).
double training_seconds(const fs::path& dir) {
  std::ifstream log(dir / "log.jsonl");
  double total = 0.0;
  for (std::string line; std::getline(log, line);) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded()) total += j.value("seconds", 0.0);
  }
  return total;
}

struct Stats {
  double mean = 0, std = 0;
};

Stats stats(const std::vector<double>& v) {
  Stats s;
  for (double x : v) s.mean += x / v.size();
  for (double x : v) s.std += v.size() > 1 ? (x - s.mean) * (x - s.mean) / (v.size() - 1) : 0.0;
  s.std = std::sqrt(s.std);
  return s;
}

// Parameters of the network a row's metric uses: all classes for a standard
// model (or TAPER without selection), the task's k rows after classifier
// selection or personalization.
int64_t parameters_per_task(const RunConfig& c, const std::string& metric, int64_t classes) {
  ResNetConfig rc{c.model.arch, c.model.stem, c.model.width, classes};
  const bool all_rows = metric.find("standard") != std::string::npos || metric.find("without_selection") != std::string::npos;
  if (!all_rows) rc.num_classes = c.tasks.k_max > 0 ? c.tasks.k_max : c.tasks.k;
  return ResNet(rc).parameter_count();
}

struct Evaluated {
  nlohmann::json rows = nlohmann::json::array();
  std::map<std::string, std::vector<nlohmann::json>> analyses;  // per analysis, its result for each seed
  double training_seconds = 0;
  std::map<std::string, int64_t> ledger_runs;  // runs restored from the ledger, per commit that trained them
};

// The commit a run restored from the ledger was trained at.
std::string recorded_commit(const fs::path& dir) {
  std::ifstream in(dir / "recorded.json");
  const auto j = nlohmann::json::parse(in, nullptr, false);
  return j.is_object() ? j.value("commit", "unknown") : "unknown";
}

Evaluated evaluate_spec(const Spec& spec, int64_t seeds, const RunStore& store) {
  Evaluated out;
  std::set<fs::path> used;
  for (const Row& row : spec.rows) {
    const auto [analysis, key] = split_metric(row.metric);
    std::vector<double> values;
    int64_t params = 0;
    for (int64_t s = 0; s < seeds; ++s) {
      const RunConfig c = effective_config(spec, row, s), evaluation = effective_config(spec, row, s, true);
      const nlohmann::json eval = run_once(c, evaluation, store);
      const nlohmann::json metrics =
          analysis.empty() ? eval : analysis_once(analysis, analysis_options(spec, analysis), c, evaluation, store);
      const nlohmann::json& source = analysis.empty() ? metrics : metrics["metrics"];
      if (!source.contains(key)) {
        spec_error(spec.path, "row '" + row.label + "': " + (analysis.empty() ? "eval.json" : "analysis " + analysis) +
                            " has no metric '" + key + "'");
      }
      values.push_back(100.0 * source[key].get<double>());
      used.insert(run_dir(c, store.runs));
      if (analysis.empty()) params = parameters_per_task(c, row.metric, eval.value("num_classes", int64_t{0}));
      auto& per_seed = out.analyses[analysis];
      if (!analysis.empty() && static_cast<int64_t>(per_seed.size()) == s) per_seed.push_back(metrics);
    }
    const Stats st = stats(values);
    out.rows.push_back({{"label", row.label}, {"metric", row.metric}, {"values", values}, {"mean", st.mean},
                        {"std", st.std}, {"paper", std::isnan(row.paper) ? nlohmann::json() : nlohmann::json(row.paper)},
                        {"parameters_per_task", analysis.empty() ? nlohmann::json(params) : nlohmann::json()}});
  }
  out.analyses.erase("");
  for (const auto& dir : used) {
    out.training_seconds += training_seconds(dir);
    if (is_restored(dir)) ++out.ledger_runs[recorded_commit(dir)];
  }
  return out;
}

// Throws naming the first dataset the experiments need that the data root lacks.
void require_datasets(const std::vector<Spec>& specs) {
  std::set<std::string> datasets;
  for (const Spec& spec : specs) {
    for (const Row& r : spec.rows) datasets.insert(effective_config(spec, r, 0).data.dataset);
  }
  for (const std::string& d : datasets) dataset_dir(d);
}

// The options' runs, device and ledger, and the provenance the ledger records.
RunStore run_store(const ReproduceOptions& o) {
  RunStore store;
  store.runs = fs::path(o.runs_dir) / o.scale;
  store.device = o.device;
  if (o.ledger) store.ledger = fs::path(o.results_dir) / o.scale / "runs";
  store.provenance = {{"commit", commit()}, {"machine", machine()}, {"command", o.command}};
  store.may_train = !o.no_train;
  return store;
}

}  // namespace

void check_experiments(const ReproduceOptions& o) {
  require_device(o.device);
  require_datasets(read_specs(o.experiments_dir, o.scale, o.only));
}

std::vector<std::string> reproduce(const ReproduceOptions& o) {
  require_device(o.device);
  const std::vector<Spec> specs = read_specs(o.experiments_dir, o.scale, o.only);
  const RunStore store = run_store(o);
  if (!store.ledger.empty()) restore_runs(store.ledger, store.runs);
  if (o.plan) {
    print_plan(specs, o);
    print_groups(specs, o);
    return {};
  }
  require_datasets(specs);
  if (o.shards > 1) {
    train_shard(specs, store, o);
    return {};
  }
  std::vector<std::string> skipped;
  for (const Spec& spec : specs) {
    const auto start = std::chrono::steady_clock::now();
    const int64_t seeds = seeds_of(spec, o.seeds);
    if (o.no_train) {
      const auto needed = runs_of(spec, o);
      const auto trained =
          std::count_if(needed.begin(), needed.end(), [](const NeededRun& r) { return !needs_training(r); });
      if (trained < static_cast<std::ptrdiff_t>(needed.size())) {
        std::fprintf(stderr, "reproduce: not yet %s/%s: %td of its %zu runs trained\n", o.scale.c_str(),
                     spec.name.c_str(), trained, needed.size());
        skipped.push_back(spec.name);
        continue;
      }
    }
    std::fprintf(stderr, "reproduce: %s/%s (%lld seed%s)\n", o.scale.c_str(), spec.name.c_str(),
                 static_cast<long long>(seeds), seeds == 1 ? "" : "s");
    nlohmann::json doc = {{"name", spec.name}, {"title", spec.title}, {"scale", o.scale}, {"seeds", seeds},
                          {"tolerance", spec.tolerance}, {"command", o.command}, {"commit", commit()},
                          {"date", utc_now()}, {"machine", machine()}, {"device", o.device.str()}};
    Evaluated ev;
    try {
      ev = evaluate_spec(spec, seeds, store);
    } catch (const TextModelMissing& e) {
      std::fprintf(stderr, "reproduce: skipped %s/%s: %s\n", o.scale.c_str(), spec.name.c_str(), e.what());
      skipped.push_back(spec.name);
      continue;
    }
    doc["rows"] = ev.rows;
    doc["training_seconds"] = static_cast<int64_t>(ev.training_seconds);
    if (!ev.ledger_runs.empty()) doc["ledger_runs"] = ev.ledger_runs;
    doc["claims"] = judge(spec, doc["rows"]);
    doc["figures"] = nlohmann::json::array();
    for (const auto& [analysis, per_seed] : ev.analyses) {
      const fs::path stem = fs::path(o.results_dir) / o.scale / "figures" / (spec.name + "-" + analysis);
      for (const std::string& p : draw_analysis(analysis, per_seed, stem.string())) {
        doc["figures"].push_back(fs::relative(p, fs::path(o.results_dir) / o.scale).string());
      }
    }
    doc["wall_seconds"] = static_cast<int64_t>(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    write_outputs(spec, doc, fs::path(o.results_dir) / o.scale);
    std::fprintf(stderr, "reproduce: wrote %s/%s/%s.{md,csv,json}\n", o.results_dir.c_str(), o.scale.c_str(),
                 spec.name.c_str());
  }
  return skipped;
}

}  // namespace taper

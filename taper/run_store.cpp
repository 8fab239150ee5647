#include "taper/run_store.h"

#include <cstdio>
#include <fstream>
#include <stdexcept>

#include "taper/analyses.h"
#include "taper/content_hash.h"
#include "taper/pipeline.h"
#include "taper/provenance.h"
#include "taper/run_ledger.h"
#include "taper/shared_checkpoints.h"
#include "taper/svg_figure.h"

namespace taper {

namespace fs = std::filesystem;

fs::path run_dir(const RunConfig& c, const fs::path& runs) { return runs / content_hash(to_toml(c)); }

namespace {

// Where the runs' evaluations of shared checkpoints are kept
// (taper/evaluation_cache.h): runs/<scale>.evaluations, beside the run
// folders rather than among them.
std::string evaluation_cache(const RunStore& store) { return store.runs.string() + ".evaluations"; }

void record(const RunStore& store, const fs::path& dir) {
  if (store.ledger.empty()) return;
  nlohmann::json provenance = store.provenance;
  provenance["date"] = utc_now();
  record_run(dir, store.ledger, provenance);
}

// The finished run with its checkpoints, for an evaluation or analysis its
// folder lacks: a run restored from the ledger has none, so it trains again.
TrainedRun load_trained(const RunConfig& c, const RunConfig& evaluation, const RunStore& store,
                        const std::string& what) {
  const fs::path dir = run_dir(c, store.runs);
  if (is_restored(dir)) {
    const std::string why = dir.string() + " came from the ledger (" + store.ledger.string() +
                            ") without checkpoints, and " + what + " is not in it";
    if (!store.may_train) throw std::runtime_error(why + ": run without --no-train to train it again");
    std::fprintf(stderr, "reproduce: training again: %s\n", why.c_str());
    forget_restored(dir);
    train_once(c, store);
  }
  return load_run(dir.string(), &evaluation, store.device);
}

}  // namespace

void train_once(const RunConfig& c, const RunStore& store) {
  const fs::path dir = run_dir(c, store.runs);
  if (fs::exists(dir / "eval.json")) return;
  share_stages(store.runs, c, dir);
  train_run(c, dir.string(), true, store.device, evaluation_cache(store));
  record(store, dir);
}

std::string eval_file(const RunConfig& c, const RunConfig& evaluation) {
  return to_toml(evaluation) == to_toml(c) ? "eval.json" : "eval-" + content_hash(to_toml(evaluation)) + ".json";
}

std::string analysis_file(const std::string& name, const nlohmann::json& options, const RunConfig& evaluation) {
  return "analysis-" + name + "-" + content_hash(options.dump() + to_toml(evaluation)) + ".json";
}

nlohmann::json run_once(const RunConfig& c, const RunConfig& evaluation, const RunStore& store) {
  const fs::path dir = run_dir(c, store.runs);
  train_once(c, store);
  const fs::path eval = dir / eval_file(c, evaluation);
  if (!fs::exists(eval)) {
    TrainedRun run = load_trained(c, evaluation, store, eval.filename().string());
    write_eval(dir.string(), evaluate_run(run, evaluation_cache(store)), evaluation, eval.filename().string());
    record(store, dir);
  }
  std::ifstream in(eval);
  return nlohmann::json::parse(in);
}

nlohmann::json analysis_once(const std::string& name, const nlohmann::json& options, const RunConfig& c,
                             const RunConfig& evaluation, const RunStore& store) {
  const fs::path dir = run_dir(c, store.runs);
  const fs::path file = dir / analysis_file(name, options, evaluation);
  if (!fs::exists(file)) {
    TrainedRun run = load_trained(c, evaluation, store, file.filename().string());
    const nlohmann::json result = run_analysis(name, run, options);
    write_text_file(file.string(), result.dump(1) + "\n");
    record(store, dir);
  }
  std::ifstream in(file);
  return nlohmann::json::parse(in);
}

}  // namespace taper

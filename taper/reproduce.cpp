#include "taper/reproduce.h"
#include "taper/toml.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>
#include <fcntl.h>
#include <unistd.h>

#include "data/catalog.h"
#include "engine/cpu/blas_kernels.h"
#include "engine/safetensors.h"
#include "taper/analyses.h"
#include "taper/config.h"
#include "taper/content_hash.h"
#include "taper/pipeline.h"
#include "taper/run_ledger.h"
#include "taper/sentence_encoder.h"
#include "taper/svg_figure.h"

namespace taper {

namespace fs = std::filesystem;

namespace {

struct Row {
  std::string label, metric;
  std::string base;  // this row's run config instead of the file's (Table 6 spans three datasets)
  double paper = NAN;
  toml::table set;
  toml::table eval;  // [tasks] overrides for evaluation only (Table 3's cross-evaluation)
};

struct Claim {
  std::string text, better, worse;
};

struct Spec {
  std::string name, path, title, base;
  int64_t seeds = 1;
  double tolerance = 0.015;
  std::vector<Row> rows;
  std::vector<Claim> claims;
  nlohmann::json analysis;  // [analysis.<name>] option tables
};

// "self_improvement.step3" -> {"self_improvement", "step3"}; eval.json metrics -> {"", metric}.
std::pair<std::string, std::string> split_metric(const std::string& metric) {
  const size_t dot = metric.find('.');
  if (dot == std::string::npos) return {"", metric};
  return {metric.substr(0, dot), metric.substr(dot + 1)};
}

[[noreturn]] void fail(const std::string& path, const std::string& what) { throw ConfigError(path + ": " + what); }

std::string text_of(const toml::table& t, const std::string& key, const std::string& path) {
  auto v = t[key].value<std::string>();
  if (!v) fail(path, "'" + key + "' must be a string");
  return *v;
}

void only_keys(const toml::table& t, const std::vector<std::string>& keys, const std::string& path,
               const std::string& where) {
  for (const auto& [k, v] : t) {
    if (std::find(keys.begin(), keys.end(), std::string(k.str())) == keys.end()) {
      fail(path, where + "unknown key '" + std::string(k.str()) + "'");
    }
  }
}

Row read_row(const toml::table& t, const std::string& path) {
  only_keys(t, {"label", "metric", "base", "paper", "set", "eval"}, path, "[[row]] ");
  Row r{text_of(t, "label", path), text_of(t, "metric", path), t["base"].value<std::string>().value_or(""),
        t["paper"].value<double>().value_or(NAN), {}, {}};
  if (const toml::table* set = t["set"].as_table()) r.set = *set;
  if (const toml::table* ev = t["eval"].as_table()) r.eval = *ev;
  for (const auto& [k, v] : r.eval) {
    if (std::string(k.str()).rfind("tasks.", 0) != 0) fail(path, "row '" + r.label + "': eval may only set tasks.* keys");
  }
  return r;
}

// An experiment file or a base run config, through taper/toml.h's parser.
toml::table parse_toml_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot read (" + std::string(std::strerror(errno)) + ")");
  return parse_toml(std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()), path);
}

// `extends = "../tiny/table6.toml"`: the other file's keys, with this file's
// replacing them, except `set`, whose overrides add to the other's. Base
// configs stay relative to this file, so one table serves every scale.
toml::table resolve_extends(const std::string& path, int depth = 0) {
  toml::table t = parse_toml_file(path);
  const auto parent = t["extends"].value<std::string>();
  if (!parent) return t;
  if (depth > 4) fail(path, "'extends' chain is longer than 4 files (a cycle?)");
  const std::string parent_path = (fs::path(path).parent_path() / *parent).string();
  if (!fs::exists(parent_path)) fail(path, "extends " + parent_path + ", which does not exist");
  toml::table merged = resolve_extends(parent_path, depth + 1);
  toml::table set = merged["set"].as_table() ? *merged["set"].as_table() : toml::table{};
  if (const toml::table* own = t["set"].as_table()) {
    for (const auto& [k, v] : *own) set.insert_or_assign(k, v);
  }
  for (const auto& [k, v] : t) merged.insert_or_assign(k, v);
  merged.insert_or_assign("set", set);
  merged.erase("extends");
  return merged;
}

Spec read_spec(const std::string& path, const std::string& name) {
  const toml::table t = resolve_extends(path);
  only_keys(t, {"title", "base", "seeds", "tolerance", "set", "row", "claim", "analysis", "extends"}, path, "");
  Spec s{name, path, text_of(t, "title", path), text_of(t, "base", path), t["seeds"].value<int64_t>().value_or(1),
         t["tolerance"].value<double>().value_or(0.015), {}, {}, {}};
  const toml::table* shared = t["set"].as_table();
  if (const toml::array* rows = t["row"].as_array()) {
    for (const auto& r : *rows) {
      Row row = read_row(*r.as_table(), path);
      // Every row's overrides start from the file's `set`.
      toml::table set = shared ? *shared : toml::table{};
      for (const auto& [k, v] : row.set) set.insert_or_assign(k, v);
      row.set = set;
      s.rows.push_back(std::move(row));
    }
  }
  if (const toml::array* claims = t["claim"].as_array()) {
    for (const auto& c : *claims) {
      const toml::table& ct = *c.as_table();
      only_keys(ct, {"text", "better", "worse"}, path, "[[claim]] ");
      s.claims.push_back({text_of(ct, "text", path), text_of(ct, "better", path), text_of(ct, "worse", path)});
    }
  }
  if (s.rows.empty()) fail(path, "no [[row]]");
  for (const Row& r : s.rows) {
    const std::string analysis = split_metric(r.metric).first;
    if (!analysis.empty() && !is_analysis(analysis)) {
      fail(path, "row '" + r.label + "': metric '" + r.metric + "' names no analysis (self_improvement, mixers, basis_similarity, zero_shot)");
    }
  }
  if (const toml::table* a = t["analysis"].as_table()) {
    std::ostringstream json;
    json << toml::json_formatter{*a};
    s.analysis = nlohmann::json::parse(json.str());
    for (const auto& [name, options] : s.analysis.items()) {
      if (!is_analysis(name)) fail(path, "[analysis." + name + "]: no such analysis (self_improvement, mixers, basis_similarity, zero_shot)");
    }
  }
  return s;
}

// Sets a dotted key ("taper.bases") in a TOML table, creating tables on the way.
void assign(toml::table& root, const std::string& dotted, const toml::node& value) {
  toml::table* t = &root;
  std::string rest = dotted;
  for (size_t dot; (dot = rest.find('.')) != std::string::npos; rest = rest.substr(dot + 1)) {
    const std::string key = rest.substr(0, dot);
    if (!t->contains(key)) t->insert(key, toml::table{});
    t = (*t)[key].as_table();
    if (!t) throw ConfigError("override '" + dotted + "': '" + key + "' is not a table");
  }
  t->insert_or_assign(rest, value);
}

// The row's training config; with `for_eval`, its eval overrides applied too.
RunConfig effective_config(const Spec& spec, const Row& row, int64_t seed, bool for_eval = false) {
  const std::string base_path = (fs::path(spec.path).parent_path() / (row.base.empty() ? spec.base : row.base)).string();
  if (!fs::exists(base_path)) fail(spec.path, "row '" + row.label + "': base config " + base_path + " does not exist");
  toml::table t = parse_toml_file(base_path);
  for (const auto& [k, v] : row.set) assign(t, std::string(k.str()), v);
  if (for_eval) {
    for (const auto& [k, v] : row.eval) assign(t, std::string(k.str()), v);
  }
  assign(t, "seed", toml::value<int64_t>(seed));
  std::ostringstream text;
  text << t;
  return parse_config(text.str(), spec.path + " row '" + row.label + "' (base " + base_path + ")");
}

// What each checkpoint's training depends on, as config text: two runs
// whose keys agree train that checkpoint identically. (Loader workers do
// not change batches, and evaluation tasks do not change training.)
RunConfig stage1_part(const RunConfig& c) {
  RunConfig k;
  k.seed = c.seed;
  k.data = c.data;
  k.data.workers = DataConfig{}.workers;
  k.model = c.model;
  k.stage1 = c.stage1;
  return k;
}

RunConfig stage2_part(const RunConfig& c) {
  RunConfig k = stage1_part(c);
  k.taper.bases = c.taper.bases;
  k.taper.shards = c.taper.shards;
  k.taper.training = c.taper.training;
  k.stage2 = c.stage2;
  return k;
}

std::string baseline_key(const RunConfig& c) {
  RunConfig k = stage1_part(c);
  k.stage1 = {};
  k.baseline = c.baseline;
  return to_toml(k);
}

std::string finetune_key(const RunConfig& c) {
  RunConfig k = stage2_part(c);
  k.finetune_average = c.finetune_average;
  return to_toml(k);
}

// Stage 3 (or the naive stage) depends on everything but the baseline, the
// fine-tuned average and the evaluation tasks.
std::string taper_key(const RunConfig& c) {
  RunConfig k = c;
  k.data.workers = DataConfig{}.workers;
  k.tasks.eval_seed = TasksConfig{}.eval_seed;
  k.baseline = {};
  k.finetune_average = {};
  k.source.clear();
  return to_toml(k);
}

struct SharedCheckpoint {
  std::string prefix;  // checkpoint files starting with it (stage2.shard00, stage2.shard01, ...)
  std::string (*key)(const RunConfig&);
  int64_t (*epochs)(const RunConfig&);  // the stage's length: its checkpoint is finished at this many
};

const SharedCheckpoint kShared[] = {
    {"stage1.", [](const RunConfig& c) { return to_toml(stage1_part(c)); },
     [](const RunConfig& c) { return c.stage1.epochs; }},
    {"stage2.", [](const RunConfig& c) { return to_toml(stage2_part(c)); },
     [](const RunConfig& c) { return c.stage2.epochs; }},
    {"stage3.", taper_key, [](const RunConfig& c) { return c.stage3.epochs; }},
    {"naive.", taper_key, [](const RunConfig& c) { return c.stage1.epochs + c.stage2.epochs + c.stage3.epochs; }},
    {"baseline.", baseline_key, [](const RunConfig& c) { return c.baseline.epochs; }},
    {"finetune_average.", finetune_key, [](const RunConfig& c) { return c.finetune_average.epochs; }},
};

// The run directories under `runs` with a config.toml, finished or not, with their configs.
std::vector<std::pair<fs::path, RunConfig>> runs_in(const fs::path& runs) {
  std::vector<std::pair<fs::path, RunConfig>> found;
  if (!fs::exists(runs)) return found;
  for (const auto& dir : fs::directory_iterator(runs)) {
    const fs::path cfg = dir.path() / "config.toml";
    if (fs::exists(cfg)) found.emplace_back(dir.path(), load_config(cfg.string()));
  }
  return found;
}

// Whether a checkpoint file holds all `epochs` of its stage: those of an
// interrupted run may hold fewer.
bool holds_epochs(const fs::path& checkpoint, int64_t epochs) {
  const auto meta = load_safetensors_metadata(checkpoint.string());
  const auto it = meta.find("epochs_done");
  return it != meta.end() && std::stoll(it->second) >= epochs;
}

// A run directory's checkpoint files of one kind (kShared's `prefix`), those
// holding at least `epochs` epochs each (0: all of them).
std::vector<fs::path> checkpoints(const fs::path& dir, const std::string& prefix, int64_t epochs) {
  std::vector<fs::path> out;
  for (const auto& f : fs::directory_iterator(dir)) {
    if (f.path().filename().string().rfind(prefix, 0) != 0 || f.path().extension() != ".safetensors") continue;
    if (epochs <= 0 || holds_epochs(f.path(), epochs)) out.push_back(f.path());
  }
  return out;
}

// Copies the finished checkpoints of other runs whose training of them
// agrees with this run's, so that rows differing only in later stages (or
// only in evaluation) never train a stage twice. A run interrupted, or
// abandoned when its later stages were reconfigured, still lends the stages
// it finished.
void share_stages(const fs::path& runs, const RunConfig& c, const fs::path& dir) {
  for (const auto& [other, o] : runs_in(runs)) {
    if (other == dir) continue;
    const bool finished = fs::exists(other / "eval.json");
    for (const SharedCheckpoint& shared : kShared) {
      if (shared.key(o) != shared.key(c)) continue;
      // A finished run's checkpoints all hold their epochs.
      for (const fs::path& f : checkpoints(other, shared.prefix, finished ? 0 : shared.epochs(c))) {
        const fs::path name = f.filename();
        if (fs::exists(dir / name)) continue;
        fs::create_directories(dir);
        fs::copy_file(f, dir / name);
        std::fprintf(stderr, "reproduce: sharing %s of %s\n", name.c_str(), other.c_str());
      }
    }
  }
}

fs::path run_dir(const RunConfig& c, const fs::path& runs) { return runs / content_hash(to_toml(c)); }

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

std::string utc_now() {
  char buf[32];
  const std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", std::gmtime(&t));
  return buf;
}

// Where runs live and train, and the ledger their results go to.
struct RunStore {
  fs::path runs;             // runs/<scale>: run folders with their checkpoints
  Device device = Device::cpu();
  fs::path ledger;           // empty: none (taper/run_ledger.h)
  nlohmann::json provenance;  // what the ledger records with a run: commit, machine, command (and the date)
  bool may_train = true;      // false under --no-train
};

void record(const RunStore& store, const fs::path& dir) {
  if (store.ledger.empty()) return;
  nlohmann::json provenance = store.provenance;
  provenance["date"] = utc_now();
  record_run(dir, store.ledger, provenance);
}

// Trains the run (which writes its eval.json) unless it is finished, after
// copying the checkpoints that other runs share with it, and records it.
void train_once(const RunConfig& c, const RunStore& store) {
  const fs::path dir = run_dir(c, store.runs);
  if (fs::exists(dir / "eval.json")) return;
  share_stages(store.runs, c, dir);
  train_run(c, dir.string(), true, store.device);
  record(store, dir);
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

// The file in a run's folder that holds its evaluation under `evaluation`:
// eval.json under its own tasks, eval-<hash>.json under others.
std::string eval_file(const RunConfig& c, const RunConfig& evaluation) {
  return to_toml(evaluation) == to_toml(c) ? "eval.json" : "eval-" + content_hash(to_toml(evaluation)) + ".json";
}

// The file in a run's folder that caches an analysis, by (analysis, options, evaluation config).
std::string analysis_file(const std::string& name, const nlohmann::json& options, const RunConfig& evaluation) {
  return "analysis-" + name + "-" + content_hash(options.dump() + to_toml(evaluation)) + ".json";
}

// A file's [analysis.<name>] options (none: {}); they name the analysis's cache file.
nlohmann::json analysis_options(const Spec& spec, const std::string& analysis) {
  return spec.analysis.value(analysis, nlohmann::json::object());
}

// The run's evaluation (eval_file), training it first if needed, or
// evaluating the finished run again under other tasks.
nlohmann::json run_once(const RunConfig& c, const RunConfig& evaluation, const RunStore& store) {
  const fs::path dir = run_dir(c, store.runs);
  train_once(c, store);
  const fs::path eval = dir / eval_file(c, evaluation);
  if (!fs::exists(eval)) {
    TrainedRun run = load_trained(c, evaluation, store, eval.filename().string());
    write_eval(dir.string(), evaluate_run(run), evaluation, eval.filename().string());
    record(store, dir);
  }
  std::ifstream in(eval);
  return nlohmann::json::parse(in);
}

// An analysis of a finished run under the evaluation config, cached in the
// run directory (analysis_file).
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

std::string shell_line(const char* cmd) {
  std::string out;
  if (FILE* p = popen(cmd, "r")) {
    char buf[256];
    while (fgets(buf, sizeof buf, p)) out += buf;
    pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

std::string machine() {
  std::string cpu = shell_line("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2");
  return (cpu.empty() ? std::string("unknown CPU") : cpu.substr(cpu.find_first_not_of(' '))) + ", " +
         std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) + " cores, compiled for " + compiled_arch() + ", OpenBLAS " +
         blas_core_name() + " kernels";
}

std::string commit() {
  const std::string head = shell_line("git rev-parse --short HEAD 2>/dev/null");
  // Results being rewritten do not make the code that produced them dirty.
  const std::string dirty =
      shell_line("git status --porcelain --untracked-files=no -- . ':!results' 2>/dev/null | head -1");
  return (head.empty() ? "unknown" : head) + (dirty.empty() ? "" : "-dirty");
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
        fail(spec.path, "row '" + row.label + "': " + (analysis.empty() ? "eval.json" : "analysis " + analysis) +
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

nlohmann::json judge(const Spec& spec, const nlohmann::json& rows) {
  auto find = [&](const std::string& label) -> const nlohmann::json& {
    for (const auto& r : rows) {
      if (r["label"] == label) return r;
    }
    fail(spec.path, "claim names unknown row '" + label + "'");
  };
  nlohmann::json claims = nlohmann::json::array();
  for (const Claim& c : spec.claims) {
    const auto &b = find(c.better), &w = find(c.worse);
    const double diff = b["mean"].get<double>() - w["mean"].get<double>();
    const double noise = b["std"].get<double>() + w["std"].get<double>();
    std::string verdict = diff > noise ? "holds" : diff > 0 ? "holds within noise" : "does not hold";
    if (b["values"].size() < 2) verdict += " (one seed: no noise estimate)";
    claims.push_back({{"text", c.text}, {"better", c.better}, {"worse", c.worse}, {"difference", diff},
                      {"verdict", verdict + " at this scale"}});
  }
  return claims;
}

std::string format_cell(const nlohmann::json& r) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f ± %.2f", r["mean"].get<double>(), r["std"].get<double>());
  return buf;
}

// "; 12 of its runs restored from the ledger (results/<scale>/runs/), trained at commit abc1234 (12)".
std::string ledger_sentence(const nlohmann::json& doc) {
  if (!doc.contains("ledger_runs") || doc["ledger_runs"].empty()) return "";
  int64_t total = 0;
  std::string commits;
  for (const auto& [commit, n] : doc["ledger_runs"].items()) {
    total += n.get<int64_t>();
    commits += (commits.empty() ? "" : ", ") + commit + " (" + std::to_string(n.get<int64_t>()) + ")";
  }
  return "; " + std::to_string(total) + " of its runs restored from the ledger (runs/ beside this file), trained at commit" +
         (doc["ledger_runs"].size() > 1 ? "s " : " ") + commits;
}

void write_outputs(const Spec& spec, const nlohmann::json& doc, const fs::path& dir) {
  fs::create_directories(dir);
  std::ofstream(dir / (spec.name + ".json")) << doc.dump(2) << "\n";
  std::ofstream csv(dir / (spec.name + ".csv"));
  csv << "label,metric,mean,std,seeds,paper,parameters_per_task\n";
  for (const auto& r : doc["rows"]) {
    csv << '"' << r["label"].get<std::string>() << "\"," << r["metric"].get<std::string>() << ',' << r["mean"] << ','
        << r["std"] << ',' << r["values"].size() << ',' << (r["paper"].is_null() ? "" : r["paper"].dump()) << ','
        << (r["parameters_per_task"].is_null() ? "" : r["parameters_per_task"].dump()) << "\n";
  }
  std::ofstream md(dir / (spec.name + ".md"));
  md << "# " << spec.title << "\n\nscale " << doc["scale"].get<std::string>() << ", seeds "
     << doc["seeds"].get<int64_t>() << "; command `" << doc["command"].get<std::string>() << "`; commit "
     << doc["commit"].get<std::string>() << "; " << doc["date"].get<std::string>() << "; "
     << doc["machine"].get<std::string>() << "; wall time " << doc["wall_seconds"].get<int64_t>()
     << " s (training of the runs it used: " << doc["training_seconds"].get<int64_t>()
     << " s; runs already done are reused)" << ledger_sentence(doc) << ".\n\n"
     << "| row | ours (%, mean ± std) | paper (%) | parameters per task |\n|---|---|---|---|\n";
  for (const auto& r : doc["rows"]) {
    md << "| " << r["label"].get<std::string>() << " | " << format_cell(r) << " | "
       << (r["paper"].is_null() ? "-" : r["paper"].dump()) << " | "
       << (r["parameters_per_task"].is_null() ? "-" : r["parameters_per_task"].dump()) << " |\n";
  }
  if (!doc["claims"].empty()) md << "\n| claim of the paper | ours: difference (points) | verdict |\n|---|---|---|\n";
  for (const auto& c : doc["claims"]) {
    char diff[32];
    std::snprintf(diff, sizeof diff, "%+.2f", c["difference"].get<double>());
    md << "| " << c["text"].get<std::string>() << " (" << c["better"].get<std::string>() << " vs "
       << c["worse"].get<std::string>() << ") | " << diff << " | " << c["verdict"].get<std::string>() << " |\n";
  }
  for (const auto& f : doc["figures"]) md << "\n![" << f.get<std::string>() << "](" << f.get<std::string>() << ")\n";
}

// The trainings a run needs, one per checkpoint kind it trains, each named by
// the key two runs share it under (share_stages) and costing `epochs` passes
// over `what` (the dataset and network it trains).
struct Training {
  std::string kind, key, what;
  int64_t epochs;
  std::string prefix;     // its checkpoint files (kShared's prefix)
  int64_t files = 1;      // how many: stage 2 has one per basis
};

std::string network_of(const RunConfig& c) {
  return c.data.dataset + " " + c.model.arch + " width " + std::to_string(c.model.width).substr(0, 4);
}

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

// Whether an unfinished run's directory holds all of a training's checkpoint
// files, each with all its epochs (the files share_stages would copy).
bool holds_training(const fs::path& dir, const Training& t) {
  return static_cast<int64_t>(checkpoints(dir, t.prefix, t.epochs).size()) >= t.files;
}

using NetworkKind = std::pair<std::string, std::string>;  // (network_of, training kind)
using TrainingId = std::pair<std::string, std::string>;   // (kind, key): one checkpoint shared by every run needing it

struct Cost {
  int64_t trainings = 0, epochs = 0;
};

// The distinct trainings `runs` need, each counted once however many runs
// share it and skipped when in `done`, summed per network and kind.
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
  if (!distinct.empty()) {
    std::fprintf(out, "  about %.1f h of training at the fastest measured epochs (evaluation not included)%s\n", hours,
                 unmeasured > 0 ? (", plus " + std::to_string(unmeasured) + " epochs not measured yet").c_str() : "");
  }
}

// --seeds, else the experiment file's own.
int64_t seeds_of(const Spec& spec, const ReproduceOptions& o) { return o.seeds > 0 ? o.seeds : spec.seeds; }

// A run that experiments need, and the result files their rows read in its
// folder (eval.json, and eval_file or analysis_file per row).
struct NeededRun {
  fs::path dir;
  RunConfig config;
  std::set<std::string> files;
};

// Adds `run` to `runs` unless a run of its folder is there; then only its files.
void add_needed(std::vector<NeededRun>& runs, NeededRun run) {
  const auto same = std::find_if(runs.begin(), runs.end(), [&](const NeededRun& r) { return r.dir == run.dir; });
  if (same == runs.end()) {
    runs.push_back(std::move(run));
  } else {
    same->files.insert(run.files.begin(), run.files.end());
  }
}

// The distinct runs an experiment needs (its rows for each seed), in row
// order, with their configs and result files.
std::vector<NeededRun> runs_of(const Spec& spec, const ReproduceOptions& o) {
  const int64_t seeds = seeds_of(spec, o);
  std::vector<NeededRun> out;
  for (const Row& row : spec.rows) {
    const std::string analysis = split_metric(row.metric).first;
    for (int64_t s = 0; s < seeds; ++s) {
      const RunConfig c = effective_config(spec, row, s), evaluation = effective_config(spec, row, s, true);
      const std::string file =
          analysis.empty() ? eval_file(c, evaluation) : analysis_file(analysis, analysis_options(spec, analysis), evaluation);
      add_needed(out, {run_dir(c, fs::path(o.runs_dir) / o.scale), c, {"eval.json", file}});
    }
  }
  return out;
}

// A result file the run's rows read and its folder lacks, if any.
std::string missing_file(const NeededRun& r) {
  for (const std::string& f : r.files) {
    if (!fs::exists(r.dir / f)) return f;
  }
  return "";
}

// Whether a run must train before its rows can be read: it never finished
// here, or it came from the ledger without a result file they read (which
// needs its checkpoints). A run trained here computes what it lacks from them.
bool needs_training(const NeededRun& r) {
  if (!fs::exists(r.dir / "eval.json")) return true;
  return is_restored(r.dir) && !missing_file(r).empty();
}

std::vector<RunConfig> configs_of(const std::vector<NeededRun>& runs) {
  std::vector<RunConfig> out;
  for (const NeededRun& r : runs) out.push_back(r.config);
  return out;
}

// Runs that share a checkpoint, directly or through others: a group never
// waits for another's training, nor trains one twice. Runs sharing stage 1
// share every later stage's group; a baseline, which does not depend on
// stage 1, joins the groups of the runs it serves.
struct RunGroup {
  std::vector<NeededRun> runs;
  int64_t epochs = 0;  // of its distinct trainings
};

// The experiments' distinct runs in groups, largest first by epochs (ties
// in the order the experiments first need them), from the configs alone,
// never from what is finished: every shard's process computes the same list.
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
    groups[it->second].runs.push_back(runs[i]);
  }
  for (RunGroup& g : groups) {
    for (const auto& [nk, cost] : distinct_trainings(configs_of(g.runs), {})) g.epochs += cost.epochs;
  }
  std::stable_sort(groups.begin(), groups.end(), [](const RunGroup& a, const RunGroup& b) { return a.epochs > b.epochs; });
  return groups;
}

// The groups of shard `o.shard` of `o.shards`: each dealt, largest first, to
// the shard with the fewest epochs so far.
std::vector<size_t> dealt_groups(const std::vector<RunGroup>& groups, const ReproduceOptions& o) {
  std::vector<int64_t> load(o.shards, 0);
  std::vector<size_t> mine;
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto least = std::min_element(load.begin(), load.end()) - load.begin();
    load[least] += groups[g].epochs;
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
  std::fprintf(stderr, "reproduce: shard %lld, group %zu of %zu: %zu runs, %lld epochs\n",
               static_cast<long long>(o.shard), g + 1, groups, group.runs.size(),
               static_cast<long long>(group.epochs));
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

// Trains (and evaluates) this shard's runs; results are for the pass after.
// With o.claims_dir, a group is the first asking shard's, so a shard that
// finishes early (its groups were trained before, or cheap) takes the next.
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

// Per experiment: rows, seeds, and the distinct runs they need, finished or
// not; then the scale's distinct runs overall (experiments share runs) and
// the trainings the unfinished ones still need.
void print_plan(const std::vector<Spec>& specs, const ReproduceOptions& o) {
  std::FILE* out = o.plan_out;
  const fs::path runs = fs::path(o.runs_dir) / o.scale;
  std::set<fs::path> all, all_done, again;
  std::vector<RunConfig> todo;  // a run two experiments need may be here twice: its trainings count once
  for (const Spec& spec : specs) {
    const int64_t seeds = seeds_of(spec, o);
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

}  // namespace

std::vector<std::string> experiment_names(const std::string& experiments_dir, const std::string& scale) {
  const fs::path dir = fs::path(experiments_dir) / scale;
  if (!fs::is_directory(dir)) throw ConfigError(dir.string() + ": no such scale (expected a folder of experiment files)");
  std::vector<std::string> names;
  for (const auto& f : fs::directory_iterator(dir)) {
    const std::string stem = f.path().stem().string();
    // base.toml / base-*.toml are the scale's run configs and smoke.toml a plain run.
    const bool config = stem == "base" || stem.rfind("base-", 0) == 0 || stem == "smoke";
    if (f.path().extension() == ".toml" && !config) names.push_back(stem);
  }
  std::sort(names.begin(), names.end());
  return names;
}

namespace {

// The experiments `o` names, every file read first: a bad one fails before any training.
std::vector<Spec> read_specs(const ReproduceOptions& o) {
  const std::vector<std::string> names = o.only.empty() ? experiment_names(o.experiments_dir, o.scale) : o.only;
  std::vector<Spec> specs;
  for (const auto& name : names) {
    const fs::path path = fs::path(o.experiments_dir) / o.scale / (name + ".toml");
    if (!fs::exists(path)) throw ConfigError(path.string() + ": no such experiment at scale " + o.scale);
    specs.push_back(read_spec(path.string(), name));
  }
  return specs;
}

// Throws naming the first dataset the experiments need that the data root lacks.
void require_datasets(const std::vector<Spec>& specs) {
  std::set<std::string> datasets;
  for (const Spec& spec : specs) {
    for (const Row& r : spec.rows) datasets.insert(effective_config(spec, r, 0).data.dataset);
  }
  for (const std::string& d : datasets) dataset_dir(d);
}

}  // namespace

void check_experiments(const ReproduceOptions& o) {
  require_device(o.device);
  require_datasets(read_specs(o));
}

RunStore run_store(const ReproduceOptions& o) {
  RunStore store;
  store.runs = fs::path(o.runs_dir) / o.scale;
  store.device = o.device;
  if (o.ledger) store.ledger = fs::path(o.results_dir) / o.scale / "runs";
  store.provenance = {{"commit", commit()}, {"machine", machine()}, {"command", o.command}};
  store.may_train = !o.no_train;
  return store;
}

std::vector<std::string> reproduce(const ReproduceOptions& o) {
  require_device(o.device);
  const std::vector<Spec> specs = read_specs(o);
  const RunStore store = run_store(o);
  if (!store.ledger.empty()) restore_runs(store.ledger, store.runs);
  if (o.plan) {
    print_plan(specs, o);
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
    const int64_t seeds = seeds_of(spec, o);
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

namespace {
std::string paper_pair(const nlohmann::json& better, const nlohmann::json& worse) {
  if (better["paper"].is_null() || worse["paper"].is_null()) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f vs %.1f", better["paper"].get<double>(), worse["paper"].get<double>());
  return buf;
}

const nlohmann::json& row_named(const nlohmann::json& doc, const std::string& label) {
  for (const auto& r : doc["rows"]) {
    if (r["label"] == label) return r;
  }
  throw ConfigError(doc["name"].get<std::string>() + ": claim names unknown row '" + label + "'");
}
}  // namespace

std::string claims_table(const std::string& results_dir, const std::string& scale) {
  const fs::path dir = fs::path(results_dir) / scale;
  if (!fs::is_directory(dir)) throw ConfigError(dir.string() + ": no results for scale " + scale);
  std::vector<fs::path> files;
  for (const auto& f : fs::directory_iterator(dir)) {
    if (f.path().extension() == ".json") files.push_back(f.path());
  }
  std::sort(files.begin(), files.end());
  std::ostringstream md;
  md << "| experiment | claim of the paper | paper | ours at " << scale << " scale (mean over seeds) | verdict | command |\n"
     << "|---|---|---|---|---|---|\n";
  for (const fs::path& f : files) {
    std::ifstream in(f);
    const nlohmann::json doc = nlohmann::json::parse(in);
    for (const auto& c : doc["claims"]) {
      const auto &b = row_named(doc, c["better"]), &w = row_named(doc, c["worse"]);
      md << "| " << doc["name"].get<std::string>() << " | " << c["text"].get<std::string>() << " | "
         << paper_pair(b, w) << " | " << format_cell(b) << " vs " << format_cell(w) << " ("
         << doc["seeds"].get<int64_t>() << (doc["seeds"].get<int64_t>() == 1 ? " seed) | " : " seeds) | ") << c["verdict"].get<std::string>() << " | `"
         << doc["command"].get<std::string>() << "` |\n";
    }
  }
  return md.str();
}

std::vector<std::string> compare_results(const std::string& expected_json, const std::string& actual_json) {
  std::ifstream e(expected_json), a(actual_json);
  if (!e) return {expected_json + ": missing"};
  if (!a) return {actual_json + ": missing"};
  const nlohmann::json want = nlohmann::json::parse(e), got = nlohmann::json::parse(a);
  const double tol = 100.0 * want.value("tolerance", 0.015);
  std::vector<std::string> failures;
  for (const auto& w : want["rows"]) {
    bool found = false;
    for (const auto& g : got["rows"]) {
      if (g["label"] != w["label"]) continue;
      found = true;
      const double diff = std::fabs(g["mean"].get<double>() - w["mean"].get<double>());
      if (diff > tol) {
        failures.push_back(want["name"].get<std::string>() + ": row '" + w["label"].get<std::string>() + "' moved from " +
                           std::to_string(w["mean"].get<double>()) + " to " + std::to_string(g["mean"].get<double>()) +
                           " (tolerance " + std::to_string(tol) + " points)");
      }
    }
    if (!found) failures.push_back(want["name"].get<std::string>() + ": row '" + w["label"].get<std::string>() + "' missing");
  }
  return failures;
}

std::vector<std::string> regression_failures(const ReproduceOptions& o, const std::vector<std::string>& skipped,
                                             const std::string& committed_dir) {
  std::vector<std::string> failures;
  for (const auto& name : o.only.empty() ? experiment_names(o.experiments_dir, o.scale) : o.only) {
    if (std::find(skipped.begin(), skipped.end(), name) != skipped.end()) {
      failures.push_back(name + ": not checked: it could not run (the reason is above)");
      continue;
    }
    const std::string file = "/" + o.scale + "/" + name + ".json";
    for (auto& f : compare_results(committed_dir + file, o.results_dir + file)) failures.push_back(f);
  }
  return failures;
}

}  // namespace taper

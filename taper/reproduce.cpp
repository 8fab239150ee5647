#include "taper/reproduce.h"
#include "taper/toml.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unistd.h>

#include "taper/config.h"
#include "taper/pipeline.h"

namespace taper {

namespace fs = std::filesystem;

namespace {

struct Row {
  std::string label, metric;
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
};

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
  only_keys(t, {"label", "metric", "paper", "set", "eval"}, path, "[[row]] ");
  Row r{text_of(t, "label", path), text_of(t, "metric", path), t["paper"].value<double>().value_or(NAN), {}, {}};
  if (const toml::table* set = t["set"].as_table()) r.set = *set;
  if (const toml::table* ev = t["eval"].as_table()) r.eval = *ev;
  for (const auto& [k, v] : r.eval) {
    if (std::string(k.str()).rfind("tasks.", 0) != 0) fail(path, "row '" + r.label + "': eval may only set tasks.* keys");
  }
  return r;
}

Spec read_spec(const std::string& path, const std::string& name) {
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    fail(path, std::string("TOML syntax error: ") + std::string(e.description()));
  } catch (const TomlInternalError& e) {
    fail(path, std::string("TOML syntax error that toml++ cannot locate: ") + e.what());
  }
  only_keys(t, {"title", "base", "seeds", "tolerance", "row", "claim"}, path, "");
  Spec s{name, path, text_of(t, "title", path), text_of(t, "base", path), t["seeds"].value<int64_t>().value_or(1),
         t["tolerance"].value<double>().value_or(0.015), {}, {}};
  if (const toml::array* rows = t["row"].as_array()) {
    for (const auto& r : *rows) s.rows.push_back(read_row(*r.as_table(), path));
  }
  if (const toml::array* claims = t["claim"].as_array()) {
    for (const auto& c : *claims) {
      const toml::table& ct = *c.as_table();
      only_keys(ct, {"text", "better", "worse"}, path, "[[claim]] ");
      s.claims.push_back({text_of(ct, "text", path), text_of(ct, "better", path), text_of(ct, "worse", path)});
    }
  }
  if (s.rows.empty()) fail(path, "no [[row]]");
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
  const std::string base_path = (fs::path(spec.path).parent_path() / spec.base).string();
  toml::table t = toml::parse_file(base_path);
  for (const auto& [k, v] : row.set) assign(t, std::string(k.str()), v);
  if (for_eval) {
    for (const auto& [k, v] : row.eval) assign(t, std::string(k.str()), v);
  }
  assign(t, "seed", toml::value<int64_t>(seed));
  std::ostringstream text;
  text << t;
  return parse_config(text.str(), spec.path + " row '" + row.label + "' (base " + base_path + ")");
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

std::string hex(uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// What stage 1 depends on, and stage 2 on top of it.
std::string stage1_key(RunConfig c) {
  RunConfig k;
  k.seed = c.seed;
  k.data = c.data;
  k.model = c.model;
  k.stage1 = c.stage1;
  return to_toml(k);
}

std::string stage2_key(const RunConfig& c) {
  RunConfig k = parse_config(stage1_key(c), "stage key");
  k.taper.bases = c.taper.bases;
  k.taper.shards = c.taper.shards;
  k.stage2 = c.stage2;
  return to_toml(k);
}

// Copies finished stage-1/2 checkpoints of another run with the same
// settings, so that rows differing only later do not train them again.
void share_stages(const fs::path& runs, const RunConfig& c, const fs::path& dir) {
  if (fs::exists(dir / "stage1.safetensors") || !fs::exists(runs)) return;
  const std::string k1 = stage1_key(c), k2 = stage2_key(c);
  for (const auto& other : fs::directory_iterator(runs)) {
    const fs::path cfg = other.path() / "config.toml";
    if (other.path() == dir || !fs::exists(cfg) || !fs::exists(other.path() / "eval.json")) continue;
    const RunConfig o = load_config(cfg.string());
    if (stage1_key(o) != k1) continue;
    fs::create_directories(dir);
    fs::copy_file(other.path() / "stage1.safetensors", dir / "stage1.safetensors");
    if (stage2_key(o) == k2 && o.taper.training == "three-stage" && c.taper.training == "three-stage") {
      for (const auto& f : fs::directory_iterator(other.path())) {
        if (f.path().filename().string().rfind("stage2.", 0) == 0) fs::copy_file(f.path(), dir / f.path().filename());
      }
    }
    std::fprintf(stderr, "reproduce: sharing stage checkpoints of %s\n", other.path().c_str());
    return;
  }
}

fs::path run_dir(const RunConfig& c, const fs::path& runs) { return runs / hex(fnv1a(to_toml(c))); }

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

// The run's eval.json, training it first if needed; under other evaluation
// tasks, eval-<hash>.json, evaluating the finished run again.
nlohmann::json run_once(const RunConfig& c, const RunConfig& evaluation, const fs::path& runs) {
  const fs::path dir = run_dir(c, runs);
  if (!fs::exists(dir / "eval.json")) {
    share_stages(runs, c, dir);
    train_run(c, dir.string(), true);
  }
  fs::path eval = dir / "eval.json";
  if (to_toml(evaluation) != to_toml(c)) {
    eval = dir / ("eval-" + hex(fnv1a(to_toml(evaluation))) + ".json");
    if (!fs::exists(eval)) {
      TrainedRun run = load_run(dir.string(), &evaluation);
      write_eval(dir.string(), evaluate_run(run), evaluation, eval.filename().string());
    }
  }
  std::ifstream in(eval);
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
         std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) + " cores";
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
// model, the task's k rows after classifier selection or personalization.
int64_t parameters_per_task(const RunConfig& c, const std::string& metric, int64_t classes) {
  ResNetConfig rc{c.model.arch, c.model.stem, c.model.width, classes};
  if (metric.find("standard") == std::string::npos) rc.num_classes = c.tasks.k_max > 0 ? c.tasks.k_max : c.tasks.k;
  return ResNet(rc).parameter_count();
}

nlohmann::json evaluate_spec(const Spec& spec, int64_t seeds, const fs::path& runs, double* training) {
  nlohmann::json rows = nlohmann::json::array();
  std::set<fs::path> used;
  for (const Row& row : spec.rows) {
    std::vector<double> values;
    int64_t params = 0;
    for (int64_t s = 0; s < seeds; ++s) {
      const RunConfig c = effective_config(spec, row, s);
      const nlohmann::json eval = run_once(c, effective_config(spec, row, s, true), runs);
      if (!eval.contains(row.metric)) fail(spec.path, "row '" + row.label + "': eval.json has no metric '" + row.metric + "'");
      values.push_back(100.0 * eval[row.metric].get<double>());
      used.insert(run_dir(c, runs));
      params = parameters_per_task(c, row.metric, eval.value("num_classes", int64_t{0}));
    }
    const Stats st = stats(values);
    rows.push_back({{"label", row.label}, {"metric", row.metric}, {"values", values}, {"mean", st.mean},
                    {"std", st.std}, {"paper", std::isnan(row.paper) ? nlohmann::json() : nlohmann::json(row.paper)},
                    {"parameters_per_task", params}});
  }
  *training = 0.0;
  for (const auto& dir : used) *training += training_seconds(dir);
  return rows;
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

void write_outputs(const Spec& spec, const nlohmann::json& doc, const fs::path& dir) {
  fs::create_directories(dir);
  std::ofstream(dir / (spec.name + ".json")) << doc.dump(2) << "\n";
  std::ofstream csv(dir / (spec.name + ".csv"));
  csv << "label,metric,mean,std,seeds,paper,parameters_per_task\n";
  for (const auto& r : doc["rows"]) {
    csv << '"' << r["label"].get<std::string>() << "\"," << r["metric"].get<std::string>() << ',' << r["mean"] << ','
        << r["std"] << ',' << r["values"].size() << ',' << (r["paper"].is_null() ? "" : r["paper"].dump()) << ','
        << r["parameters_per_task"] << "\n";
  }
  std::ofstream md(dir / (spec.name + ".md"));
  md << "# " << spec.title << "\n\nscale " << doc["scale"].get<std::string>() << ", seeds "
     << doc["seeds"].get<int64_t>() << "; command `" << doc["command"].get<std::string>() << "`; commit "
     << doc["commit"].get<std::string>() << "; " << doc["date"].get<std::string>() << "; "
     << doc["machine"].get<std::string>() << "; wall time " << doc["wall_seconds"].get<int64_t>()
     << " s (training of the runs it used: " << doc["training_seconds"].get<int64_t>()
     << " s; runs already done are reused).\n\n"
     << "| row | ours (%, mean ± std) | paper (%) | parameters per task |\n|---|---|---|---|\n";
  for (const auto& r : doc["rows"]) {
    md << "| " << r["label"].get<std::string>() << " | " << format_cell(r) << " | "
       << (r["paper"].is_null() ? "-" : r["paper"].dump()) << " | " << r["parameters_per_task"] << " |\n";
  }
  if (!doc["claims"].empty()) md << "\n| claim of the paper | ours: difference (points) | verdict |\n|---|---|---|\n";
  for (const auto& c : doc["claims"]) {
    char diff[32];
    std::snprintf(diff, sizeof diff, "%+.2f", c["difference"].get<double>());
    md << "| " << c["text"].get<std::string>() << " (" << c["better"].get<std::string>() << " vs "
       << c["worse"].get<std::string>() << ") | " << diff << " | " << c["verdict"].get<std::string>() << " |\n";
  }
}

std::string utc_now() {
  char buf[32];
  const std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", std::gmtime(&t));
  return buf;
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

void reproduce(const ReproduceOptions& o) {
  const std::vector<std::string> names = o.only.empty() ? experiment_names(o.experiments_dir, o.scale) : o.only;
  std::vector<Spec> specs;  // all read first: a bad file fails before any training
  for (const auto& name : names) {
    const fs::path path = fs::path(o.experiments_dir) / o.scale / (name + ".toml");
    if (!fs::exists(path)) throw ConfigError(path.string() + ": no such experiment at scale " + o.scale);
    specs.push_back(read_spec(path.string(), name));
    for (const Row& r : specs.back().rows) effective_config(specs.back(), r, 0);
  }
  for (const Spec& spec : specs) {
    const auto start = std::chrono::steady_clock::now();
    const int64_t seeds = o.seeds > 0 ? o.seeds : spec.seeds;
    std::fprintf(stderr, "reproduce: %s/%s (%lld seed%s)\n", o.scale.c_str(), spec.name.c_str(),
                 static_cast<long long>(seeds), seeds == 1 ? "" : "s");
    nlohmann::json doc = {{"name", spec.name}, {"title", spec.title}, {"scale", o.scale}, {"seeds", seeds},
                          {"tolerance", spec.tolerance}, {"command", o.command}, {"commit", commit()},
                          {"date", utc_now()}, {"machine", machine()}};
    double training = 0.0;
    doc["rows"] = evaluate_spec(spec, seeds, fs::path(o.runs_dir) / o.scale, &training);
    doc["training_seconds"] = static_cast<int64_t>(training);
    doc["claims"] = judge(spec, doc["rows"]);
    doc["wall_seconds"] = static_cast<int64_t>(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    write_outputs(spec, doc, fs::path(o.results_dir) / o.scale);
    std::fprintf(stderr, "reproduce: wrote %s/%s/%s.{md,csv,json}\n", o.results_dir.c_str(), o.scale.c_str(),
                 spec.name.c_str());
  }
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

}  // namespace taper

#include "taper/experiment_spec.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "taper/analyses.h"

namespace taper {

namespace fs = std::filesystem;

std::pair<std::string, std::string> split_metric(const std::string& metric) {
  const size_t dot = metric.find('.');
  if (dot == std::string::npos) return {"", metric};
  return {metric.substr(0, dot), metric.substr(dot + 1)};
}

[[noreturn]] void spec_error(const std::string& path, const std::string& what) { throw ConfigError(path + ": " + what); }

namespace {

std::string text_of(const toml::table& t, const std::string& key, const std::string& path) {
  auto v = t[key].value<std::string>();
  if (!v) spec_error(path, "'" + key + "' must be a string");
  return *v;
}

void only_keys(const toml::table& t, const std::vector<std::string>& keys, const std::string& path,
               const std::string& where) {
  for (const auto& [k, v] : t) {
    if (std::find(keys.begin(), keys.end(), std::string(k.str())) == keys.end()) {
      spec_error(path, where + "unknown key '" + std::string(k.str()) + "'");
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
    if (std::string(k.str()).rfind("tasks.", 0) != 0) spec_error(path, "row '" + r.label + "': eval may only set tasks.* keys");
  }
  return r;
}

// An experiment file or a base run config, through taper/toml.h's parser.
toml::table parse_toml_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) spec_error(path, "cannot read (" + std::string(std::strerror(errno)) + ")");
  return parse_toml(std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()), path);
}

// `extends = "../tiny/table6.toml"`: the other file's keys, with this file's
// replacing them, except `set`, whose overrides add to the other's. Base
// configs stay relative to this file, so one table serves every scale.
toml::table resolve_extends(const std::string& path, int depth = 0) {
  toml::table t = parse_toml_file(path);
  const auto parent = t["extends"].value<std::string>();
  if (!parent) return t;
  if (depth > 4) spec_error(path, "'extends' chain is longer than 4 files (a cycle?)");
  const std::string parent_path = (fs::path(path).parent_path() / *parent).string();
  if (!fs::exists(parent_path)) spec_error(path, "extends " + parent_path + ", which does not exist");
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
  if (s.rows.empty()) spec_error(path, "no [[row]]");
  for (const Row& r : s.rows) {
    const std::string analysis = split_metric(r.metric).first;
    if (!analysis.empty() && !is_analysis(analysis)) {
      spec_error(path, "row '" + r.label + "': metric '" + r.metric + "' names no analysis (self_improvement, mixers, basis_similarity, zero_shot)");
    }
  }
  if (const toml::table* a = t["analysis"].as_table()) {
    std::ostringstream json;
    json << toml::json_formatter{*a};
    s.analysis = nlohmann::json::parse(json.str());
    for (const auto& [name, options] : s.analysis.items()) {
      if (!is_analysis(name)) spec_error(path, "[analysis." + name + "]: no such analysis (self_improvement, mixers, basis_similarity, zero_shot)");
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

}  // namespace

RunConfig effective_config(const Spec& spec, const Row& row, int64_t seed, bool for_eval) {
  const std::string base_path = (fs::path(spec.path).parent_path() / (row.base.empty() ? spec.base : row.base)).string();
  if (!fs::exists(base_path)) spec_error(spec.path, "row '" + row.label + "': base config " + base_path + " does not exist");
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

nlohmann::json analysis_options(const Spec& spec, const std::string& analysis) {
  return spec.analysis.value(analysis, nlohmann::json::object());
}

int64_t seeds_of(const Spec& spec, int64_t requested) { return requested > 0 ? requested : spec.seeds; }

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

std::vector<Spec> read_specs(const std::string& experiments_dir, const std::string& scale,
                             const std::vector<std::string>& only) {
  const std::vector<std::string> names = only.empty() ? experiment_names(experiments_dir, scale) : only;
  std::vector<Spec> specs;
  for (const auto& name : names) {
    const fs::path path = fs::path(experiments_dir) / scale / (name + ".toml");
    if (!fs::exists(path)) throw ConfigError(path.string() + ": no such experiment at scale " + scale);
    specs.push_back(read_spec(path.string(), name));
  }
  return specs;
}

}  // namespace taper

#include "taper/analyses.h"

#include <cmath>
#include <stdexcept>

#include "taper/mixer_analysis.h"
#include "taper/self_improvement.h"
#include "taper/svg_figure.h"
#include "taper/zero_shot.h"

namespace taper {

namespace {

void only_options(const nlohmann::json& options, const std::vector<std::string>& known, const std::string& analysis) {
  for (const auto& [key, value] : options.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      throw std::invalid_argument("[analysis." + analysis + "]: unknown option '" + key + "'");
    }
  }
}

nlohmann::json self_improvement_analysis(TrainedRun& run, const nlohmann::json& options) {
  only_options(options, {"tasks", "steps", "seed"}, "self_improvement");
  SelfImprovementOptions o;
  o.tasks = options.value("tasks", o.tasks);
  o.steps = options.value("steps", o.steps);
  o.seed = options.value("seed", o.seed);
  if (o.tasks < 1 || o.steps < 1) throw std::invalid_argument("[analysis.self_improvement]: tasks and steps must be >= 1");
  const SelfImprovementCurve c = self_improvement(run.exp, run.stage1, run.taper, o);
  nlohmann::json m = {{"oracle", c.oracle}, {"oracle_selection", c.oracle_selection}};
  for (int64_t s = 0; s <= o.steps; ++s) {
    m["step" + std::to_string(s)] = c.accuracy[s];
    if (s > 0) m["recall" + std::to_string(s)] = c.recall[s];
  }
  return {{"metrics", m}, {"figure", {{"accuracy", c.accuracy}, {"recall", c.recall}}}};
}

nlohmann::json mixers_analysis(TrainedRun& run, const nlohmann::json& options) {
  only_options(options, {"super_categories", "tasks_per_group", "seed"}, "mixers");
  const auto groups = options.value("super_categories", std::vector<std::string>{});
  if (groups.size() != 2) throw std::invalid_argument("[analysis.mixers]: super_categories must name two super-categories");
  const MixerStudy s = mixers_of_super_categories(run.exp, run.taper, groups, options.value("tasks_per_group", 10),
                                                  options.value("seed", uint64_t{11}));
  nlohmann::json tasks = nlohmann::json::array();
  for (const TaskMixers& t : s.tasks) tasks.push_back({{"group", t.group}, {"classes", t.classes}, {"mixers", t.mixers}});
  return {{"metrics", {{"within", s.within}, {"between", s.between}}},
          {"figure", {{"tasks", tasks}, {"blocks", run.exp.layout.num_blocks}, {"bases", run.taper.bases.count()}}}};
}

double mean_offdiagonal(const std::vector<std::vector<double>>& m) {
  double sum = 0;
  for (size_t a = 0; a < m.size(); ++a) {
    for (size_t b = 0; b < m.size(); ++b) sum += a == b ? 0.0 : m[a][b];
  }
  return m.size() > 1 ? sum / (m.size() * (m.size() - 1)) : 1.0;
}

nlohmann::json basis_similarity_analysis(TrainedRun& run, const nlohmann::json& options) {
  only_options(options, {}, "basis_similarity");
  const auto raw = basis_similarity(run.taper.bases, false), centered = basis_similarity(run.taper.bases, true);
  std::vector<std::string> names;
  const auto& domains = run.exp.train->meta.domain_names;
  const int64_t q = run.taper.bases.count();
  for (int64_t b = 0; b < q; ++b) {
    const bool per_domain = run.exp.config.taper.shards == "domains" && domains.size() > 1;
    names.push_back(per_domain ? domains[b / (q / static_cast<int64_t>(domains.size()))] + " " + std::to_string(b)
                               : "basis " + std::to_string(b));
  }
  return {{"metrics", {{"offdiagonal", mean_offdiagonal(raw)}, {"offdiagonal_centered", mean_offdiagonal(centered)}}},
          {"figure", {{"raw", raw}, {"centered", centered}, {"names", names}}}};
}

std::vector<std::string> draw_self_improvement(const std::vector<nlohmann::json>& runs, const std::string& stem) {
  const size_t steps = runs.at(0)["figure"]["accuracy"].size();
  auto series = [&](const std::string& name, auto value, std::string dash = "") {
    Series s{name, {}, {}, {}, std::move(dash)};
    for (size_t i = 0; i < steps; ++i) {
      double mean = 0, var = 0;
      for (const auto& r : runs) mean += value(r, i) / runs.size();
      for (const auto& r : runs) var += runs.size() > 1 ? std::pow(value(r, i) - mean, 2) / (runs.size() - 1) : 0.0;
      s.x.push_back(static_cast<double>(i));
      s.y.push_back(mean);
      s.err.push_back(std::sqrt(var));
    }
    return s;
  };
  const std::vector<Series> lines = {
      series("self-improvement", [](const auto& r, size_t i) { return 100 * r["figure"]["accuracy"][i].template get<double>(); }),
      // The two oracles are constant and can coincide (mini: 60.9 vs 61.1): long and short dashes.
      series("oracle TAPER", [](const auto& r, size_t) { return 100 * r["metrics"]["oracle"].template get<double>(); }, "10,5"),
      series("oracle selection", [](const auto& r, size_t) { return 100 * r["metrics"]["oracle_selection"].template get<double>(); }, "3,4"),
      series("task recall", [](const auto& r, size_t i) { return 100 * r["figure"]["recall"][i].template get<double>(); })};
  const std::string path = stem + ".svg";
  write_text_file(path, line_chart_svg({"Self-improvement without task descriptions (mean over seeds)", "step (batches of unlabeled test images seen)", "accuracy / recall (%)"}, lines));
  return {path};
}

std::vector<std::string> draw_mixers(const std::vector<nlohmann::json>& runs, const std::string& stem) {
  const nlohmann::json& f = runs.at(0)["figure"];
  const int64_t blocks = f["blocks"], bases = f["bases"];
  std::vector<std::string> rows, cols;
  std::vector<std::vector<double>> values;
  for (const auto& t : f["tasks"]) {
    rows.push_back(t["group"].get<std::string>());
    values.push_back(t["mixers"].get<std::vector<double>>());
  }
  for (int64_t b = 0; b < blocks; ++b) {
    for (int64_t q = 0; q < bases; ++q) cols.push_back("block " + std::to_string(b + 1) + " basis " + std::to_string(q));
  }
  double lo = 1.0, hi = 0.0;
  for (const auto& row : values) {
    for (double v : row) lo = std::min(lo, v), hi = std::max(hi, v);
  }
  const std::string path = stem + ".svg";
  write_text_file(path, heatmap_svg({"Predicted mixers, one row per task (seed 0)", "", ""}, rows, cols, values, lo, hi));
  return {path};
}

std::vector<std::string> draw_basis_similarity(const std::vector<nlohmann::json>& runs, const std::string& stem) {
  const nlohmann::json& f = runs.at(0)["figure"];
  const auto names = f["names"].get<std::vector<std::string>>();
  std::vector<std::string> paths;
  for (const char* part : {"raw", "centered"}) {
    const auto m = f[part].get<std::vector<std::vector<double>>>();
    double lo = 1.0;
    for (const auto& row : m) {
      for (double v : row) lo = std::min(lo, v);
    }
    const std::string what = std::string(part) == "raw" ? "Cosine of the bases' parameters (seed 0)"
                                                        : "Cosine of the bases' deviations from their mean (seed 0)";
    paths.push_back(stem + "-" + part + ".svg");
    write_text_file(paths.back(), heatmap_svg({what, "", ""}, names, names, m, lo, 1.0));
  }
  return paths;
}

nlohmann::json zero_shot_analysis(TrainedRun& run, const nlohmann::json& options) {
  only_options(options, {"k", "unseen_classes", "map_tasks", "images_per_task", "ridge", "seed"}, "zero_shot");
  ZeroShotOptions o;
  o.k = options.value("k", o.k);
  o.unseen_classes = options.value("unseen_classes", o.unseen_classes);
  o.map_tasks = options.value("map_tasks", o.map_tasks);
  o.images_per_task = options.value("images_per_task", o.images_per_task);
  o.ridge = options.value("ridge", o.ridge);
  o.seed = options.value("seed", o.seed);
  const ZeroShotAccuracy a = zero_shot(run.exp, run.taper, o);
  return {{"metrics", {{"seen", a.seen}, {"unseen", a.unseen}}},
          {"figure", {{"seen_classes", a.seen_classes}, {"unseen_classes", a.unseen_classes}}}};
}

// Zero-shot has numbers only.
std::vector<std::string> no_figure(const std::vector<nlohmann::json>&, const std::string&) { return {}; }

struct Analysis {
  const char* name;
  nlohmann::json (*run)(TrainedRun&, const nlohmann::json&);
  std::vector<std::string> (*draw)(const std::vector<nlohmann::json>&, const std::string&);
};

const Analysis kAnalyses[] = {
    {"self_improvement", self_improvement_analysis, draw_self_improvement},
    {"mixers", mixers_analysis, draw_mixers},
    {"basis_similarity", basis_similarity_analysis, draw_basis_similarity},
    {"zero_shot", zero_shot_analysis, no_figure},
};

const Analysis& find(const std::string& name) {
  for (const Analysis& a : kAnalyses) {
    if (name == a.name) return a;
  }
  throw std::invalid_argument("unknown analysis '" + name + "' (self_improvement, mixers, basis_similarity, zero_shot)");
}

}  // namespace

bool is_analysis(const std::string& name) {
  for (const Analysis& a : kAnalyses) {
    if (name == a.name) return true;
  }
  return false;
}

nlohmann::json run_analysis(const std::string& name, TrainedRun& run, const nlohmann::json& options) {
  return find(name).run(run, options.is_null() ? nlohmann::json::object() : options);
}

std::vector<std::string> draw_analysis(const std::string& name, const std::vector<nlohmann::json>& per_seed,
                                       const std::string& path_stem) {
  return find(name).draw(per_seed, path_stem);
}

}  // namespace taper

#include "taper/result_tables.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace taper {

namespace fs = std::filesystem;

namespace {

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

std::string paper_pair(const nlohmann::json& better, const nlohmann::json& worse) {
  if (better["paper"].is_null() || worse["paper"].is_null()) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f vs %.1f", better["paper"].get<double>(), worse["paper"].get<double>());
  return buf;
}

// The row a claim names; `where` (the experiment) heads the error.
const nlohmann::json& row_named(const nlohmann::json& rows, const std::string& label, const std::string& where) {
  for (const auto& r : rows) {
    if (r["label"] == label) return r;
  }
  throw ConfigError(where + ": claim names unknown row '" + label + "'");
}

}  // namespace

nlohmann::json judge(const Spec& spec, const nlohmann::json& rows) {
  nlohmann::json claims = nlohmann::json::array();
  for (const Claim& c : spec.claims) {
    const auto &b = row_named(rows, c.better, spec.path), &w = row_named(rows, c.worse, spec.path);
    const double diff = b["mean"].get<double>() - w["mean"].get<double>();
    const double noise = b["std"].get<double>() + w["std"].get<double>();
    std::string verdict = diff > noise ? "holds" : diff > 0 ? "holds within noise" : "does not hold";
    if (b["values"].size() < 2) verdict += " (one seed: no noise estimate)";
    claims.push_back({{"text", c.text}, {"better", c.better}, {"worse", c.worse}, {"difference", diff},
                      {"verdict", verdict + " at this scale"}});
  }
  return claims;
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
    const std::string name = doc["name"];
    for (const auto& c : doc["claims"]) {
      const auto &b = row_named(doc["rows"], c["better"], name), &w = row_named(doc["rows"], c["worse"], name);
      md << "| " << name << " | " << c["text"].get<std::string>() << " | "
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

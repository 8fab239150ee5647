#include "taper/needed_runs.h"

#include <algorithm>
#include <utility>

#include "taper/run_ledger.h"
#include "taper/run_store.h"

namespace taper {

namespace fs = std::filesystem;

void add_needed(std::vector<NeededRun>& runs, NeededRun run) {
  const auto same = std::find_if(runs.begin(), runs.end(), [&](const NeededRun& r) { return r.dir == run.dir; });
  if (same == runs.end()) {
    runs.push_back(std::move(run));
  } else {
    same->files.insert(run.files.begin(), run.files.end());
  }
}

std::vector<NeededRun> runs_of(const Spec& spec, const ReproduceOptions& o) {
  const int64_t seeds = seeds_of(spec, o.seeds);
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

std::string missing_file(const NeededRun& r) {
  for (const std::string& f : r.files) {
    if (!fs::exists(r.dir / f)) return f;
  }
  return "";
}

bool needs_training(const NeededRun& r) {
  if (!fs::exists(r.dir / "eval.json")) return true;
  return is_restored(r.dir) && !missing_file(r).empty();
}

}  // namespace taper

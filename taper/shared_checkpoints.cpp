#include "taper/shared_checkpoints.h"

#include <cstdio>

#include "engine/safetensors.h"

namespace taper {

namespace fs = std::filesystem;

RunConfig stage1_part(const RunConfig& c) {
  RunConfig k = data_and_network(c);
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

std::string taper_key(const RunConfig& c) {
  RunConfig k = c;
  k.data.workers = DataConfig{}.workers;
  k.tasks.eval_seed = TasksConfig{}.eval_seed;
  k.baseline = {};
  k.finetune_average = {};
  k.source.clear();
  return to_toml(k);
}

namespace {

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

// Whether a checkpoint file holds all `epochs` of its stage: those of an
// interrupted run may hold fewer.
bool holds_epochs(const fs::path& checkpoint, int64_t epochs) {
  const auto meta = load_safetensors_metadata(checkpoint.string());
  const auto it = meta.find("epochs_done");
  return it != meta.end() && std::stoll(it->second) >= epochs;
}

}  // namespace

std::vector<std::pair<fs::path, RunConfig>> runs_in(const fs::path& runs) {
  std::vector<std::pair<fs::path, RunConfig>> found;
  if (!fs::exists(runs)) return found;
  for (const auto& dir : fs::directory_iterator(runs)) {
    const fs::path cfg = dir.path() / "config.toml";
    if (fs::exists(cfg)) found.emplace_back(dir.path(), load_config(cfg.string()));
  }
  return found;
}

std::vector<fs::path> checkpoints(const fs::path& dir, const std::string& prefix, int64_t epochs) {
  std::vector<fs::path> out;
  for (const auto& f : fs::directory_iterator(dir)) {
    if (f.path().filename().string().rfind(prefix, 0) != 0 || f.path().extension() != ".safetensors") continue;
    if (epochs <= 0 || holds_epochs(f.path(), epochs)) out.push_back(f.path());
  }
  return out;
}

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

}  // namespace taper

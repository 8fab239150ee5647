#include "taper/pipeline.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace taper {

namespace {

// A kill during an atomic save leaves its temporary file (<file>.tmp.<pid>);
// the file it was replacing is intact, so the temporary is garbage.
void remove_partial_writes(const std::string& run_dir) {
  for (const auto& entry : std::filesystem::directory_iterator(run_dir)) {
    const std::string name = entry.path().filename().string();
    if (name.find(".safetensors.tmp.") != std::string::npos) std::filesystem::remove(entry.path());
  }
}

void prepare_dir(const std::string& run_dir, const RunConfig& config, bool resume) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  if (ec) throw std::runtime_error(run_dir + ": cannot create the run directory: " + ec.message());
  const std::string path = run_dir + "/config.toml";
  const std::string text = to_toml(config);
  if (fs::exists(path)) {
    const RunConfig saved = load_config(path);
    if (to_toml(saved) != text) {
      throw std::runtime_error(path + " holds a different config: resume with the same config or use a new --out");
    }
    if (!resume) throw std::runtime_error(run_dir + " already holds a run: pass --resume to continue it");
    remove_partial_writes(run_dir);
    return;
  }
  std::ofstream out(path);
  out << text;
  if (!out) throw std::runtime_error(path + ": cannot write (is the directory writable and the disk not full?)");
}

struct Stages {
  TrainState stage1;
  TaperModel taper;
  TrainState baseline;
};

// The naive approach trains stage 3's objective from random bases for the
// epochs of all three stages, with stage 1's optimizer settings.
StageConfig naive_stage(const RunConfig& c) {
  StageConfig stage = c.stage1;
  stage.epochs = c.stage1.epochs + c.stage2.epochs + c.stage3.epochs;
  return stage;
}

Stages run_stages(const StageContext& ctx) {
  const RunConfig& c = ctx.exp.config;
  Stages s;
  s.stage1 = train_standard(ctx, "stage1", c.stage1);
  if (c.taper.training == "naive") {
    s.taper = train_stage3(ctx, random_bases(ctx.exp), "naive", naive_stage(c));
  } else {
    s.taper = train_stage3(ctx, train_stage2(ctx, s.stage1), "stage3", c.stage3);
  }
  if (c.baseline.epochs > 0) s.baseline = train_standard(ctx, "baseline", c.baseline);
  return s;
}

}  // namespace

void train_run(const RunConfig& config, const std::string& run_dir, bool resume, Device device) {
  require_device(device);  // before any data is read: "no CUDA device" comes at once
  const Experiment exp = Experiment::create(config, device);
  prepare_dir(run_dir, config, resume);
  StageContext ctx{exp, run_dir, resume, {{"config", to_toml(config)}}, false};
  Stages s = run_stages(ctx);
  TrainedRun run{exp, s.stage1, s.taper, s.baseline};
  write_eval(run_dir, evaluate_run(run), config);
}

TrainedRun load_run(const std::string& run_dir, const RunConfig* evaluation, Device device) {
  require_device(device);
  const RunConfig trained = load_config(run_dir + "/config.toml");
  RunConfig config = evaluation ? *evaluation : trained;
  RunConfig same_tasks = config;
  same_tasks.tasks = trained.tasks;
  same_tasks.source = trained.source;
  if (to_toml(same_tasks) != to_toml(trained)) {
    throw ConfigError(config.source + ": an evaluation config may differ from the run's (" + run_dir +
                      "/config.toml) only in [tasks]");
  }
  const Experiment exp = Experiment::create(config, device);
  StageContext ctx{exp, run_dir, true, {}, true};
  Stages s = run_stages(ctx);
  return TrainedRun{exp, s.stage1, s.taper, s.baseline};
}

EvalSummary evaluate_run(TrainedRun& run) {
  const std::vector<Task> tasks = run.exp.eval_tasks();
  EvalSummary e;
  e.images = run.exp.test->size();
  e.classes = run.exp.num_classes();
  e.domains = run.exp.test->meta.domain_names;
  e.stage1 = evaluate_standard(run.exp, run.stage1, tasks);
  if (!run.baseline.params.empty()) e.baseline = evaluate_standard(run.exp, run.baseline, tasks);
  e.taper = evaluate_taper(run.exp, run.taper, tasks);
  return e;
}

namespace {
// "name" overall and "name@domain" per domain when the data has several.
void put(nlohmann::json& j, const std::string& name, const Accuracy& a, const std::vector<std::string>& domains) {
  j[name] = a.overall();
  if (domains.size() < 2) return;
  for (size_t d = 0; d < domains.size(); ++d) j[name + "@" + domains[d]] = a.of_domain(d);
}
}  // namespace

void write_eval(const std::string& run_dir, const EvalSummary& e, const RunConfig& config, const std::string& file) {
  nlohmann::json j = {{"test_images", e.images}, {"num_classes", e.classes}, {"eval_seed", config.tasks.eval_seed}};
  put(j, "stage1_standard", e.stage1.standard, e.domains);
  put(j, "stage1_classifier_selection", e.stage1.selection, e.domains);
  put(j, "taper_personalized", e.taper, e.domains);
  if (config.baseline.epochs > 0) {
    put(j, "baseline_standard", e.baseline.standard, e.domains);
    put(j, "baseline_classifier_selection", e.baseline.selection, e.domains);
  }
  std::ofstream out(run_dir + "/" + file);
  out << j.dump(2) << "\n";
  if (!out) throw std::runtime_error(run_dir + "/" + file + ": cannot write");
  std::printf("accuracy on %lld test images, each with its own task (k = %lld):\n", static_cast<long long>(e.images),
              static_cast<long long>(config.tasks.k));
  if (config.baseline.epochs > 0) {
    std::printf("  standard (baseline, %lld epochs)             %6.2f%%\n", static_cast<long long>(config.baseline.epochs),
                100 * e.baseline.standard.overall());
    std::printf("  classifier selection (baseline)              %6.2f%%\n", 100 * e.baseline.selection.overall());
  }
  std::printf("  standard (stage 1)                           %6.2f%%\n", 100 * e.stage1.standard.overall());
  std::printf("  classifier selection (stage 1)               %6.2f%%\n", 100 * e.stage1.selection.overall());
  std::printf("  TAPER personalized                           %6.2f%%\n", 100 * e.taper.overall());
}

}  // namespace taper

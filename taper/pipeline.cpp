#include "taper/pipeline.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/atomic_file.h"
#include "taper/evaluation_cache.h"
#include "taper/weight_average.h"

namespace taper {

namespace {

// A kill during an atomic write leaves its temporary file (<file>.tmp.<pid>);
// the file it was replacing is intact, so the temporary is garbage.
void remove_partial_writes(const std::string& run_dir) {
  for (const auto& entry : std::filesystem::directory_iterator(run_dir)) {
    if (is_atomic_temporary(entry.path().filename().string())) std::filesystem::remove(entry.path());
  }
}

// Creates the run directory and proves it writable with a throw-away 4 KB
// file, so that a read-only or full output folder fails now, before the data
// is loaded and hours of training are spent, with the folder in the message.
void check_writable(const std::string& run_dir) {
  std::error_code ec;
  std::filesystem::create_directories(run_dir, ec);
  if (ec) throw std::runtime_error(run_dir + ": cannot create the run directory: " + ec.message());
  auto fail = [&](const std::string& what, int err) {
    throw std::runtime_error(run_dir + ": the run directory is not writable (" + what + ": " + std::strerror(err) +
                             ")");
  };
  const std::string probe = run_dir + "/.taper-write-test";
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot create a file in it", errno);
  const std::string block(4096, '\0');
  const ssize_t n = ::write(fd, block.data(), block.size());
  bool written = n == static_cast<ssize_t>(block.size());
  int err = n < 0 ? errno : ENOSPC;  // a short write means the disk is full
  if (written && ::fsync(fd) != 0) {
    written = false;
    err = errno;
  }
  ::close(fd);
  ::unlink(probe.c_str());
  if (!written) fail("cannot write 4 KB to it", err);
}

void prepare_dir(const std::string& run_dir, const RunConfig& config, bool resume) {
  const std::string path = run_dir + "/config.toml";
  const std::string text = to_toml(config);
  if (std::filesystem::exists(path)) {
    const RunConfig saved = load_config(path);
    if (to_toml(saved) != text) {
      throw std::runtime_error(path + " holds a different config: resume with the same config or use a new --out");
    }
    if (!resume) throw std::runtime_error(run_dir + " already holds a run: pass --resume to continue it");
    remove_partial_writes(run_dir);
    return;
  }
  write_file_atomically(path, text);
}

struct Stages {
  TrainState stage1;
  Bases stage2;  // empty under naive training
  TaperModel taper;
  TrainState baseline, finetuned_average;  // empty when not configured
};

// The naive approach trains stage 3's objective from random bases for the
// epochs of all three stages, with stage 1's optimizer settings.
StageConfig naive_stage(const RunConfig& c) {
  StageConfig stage = c.stage1;
  stage.epochs = c.stage1.epochs + c.stage2.epochs + c.stage3.epochs;
  return stage;
}

// Stage 3 trains its bases in place; the stage-2 bases are kept for Table 6.
Bases clone_bases(const Bases& b) {
  Bases c;
  for (const TensorMap& m : b.params) {
    TensorMap& copy = c.params.emplace_back();
    for (const auto& [n, t] : m) copy[n] = t.clone().set_requires_grad(true);
  }
  for (const TensorMap& m : b.buffers) {
    TensorMap& copy = c.buffers.emplace_back();
    for (const auto& [n, t] : m) copy[n] = t.clone();
  }
  return c;
}

Stages run_stages(const StageContext& ctx) {
  const RunConfig& c = ctx.exp.config;
  Stages s;
  s.stage1 = train_standard(ctx, "stage1", c.stage1, fresh_network(ctx.exp));
  if (c.taper.training == "naive") {
    s.taper = train_stage3(ctx, random_bases(ctx.exp), "naive", naive_stage(c));
  } else {
    s.stage2 = train_stage2(ctx, s.stage1);
    s.taper = train_stage3(ctx, clone_bases(s.stage2), "stage3", c.stage3);
    if (c.finetune_average.epochs > 0) {
      s.finetuned_average =
          train_standard(ctx, "finetune_average", c.finetune_average, uniform_average(ctx.exp, s.stage2));
    }
  }
  if (c.baseline.epochs > 0) s.baseline = train_standard(ctx, "baseline", c.baseline, fresh_network(ctx.exp));
  return s;
}

TrainedRun trained_run(const Experiment& exp, Stages& s, std::shared_ptr<const TaskDescriber> trained_describer = {}) {
  return TrainedRun{exp,
                    std::move(s.stage1),
                    std::move(s.stage2),
                    std::move(s.taper),
                    std::move(s.baseline),
                    std::move(s.finetuned_average),
                    std::move(trained_describer)};
}

}  // namespace

void train_run(const RunConfig& config, const std::string& run_dir, bool resume, Device device,
               const std::string& eval_cache) {
  require_device(device);  // before any data is read: "no CUDA device" comes at once
  check_writable(run_dir);
  const Experiment exp = Experiment::create(config, device);
  prepare_dir(run_dir, config, resume);
  StageContext ctx{exp, run_dir, resume, {{"config", to_toml(config)}}, false};
  Stages s = run_stages(ctx);
  TrainedRun run = trained_run(exp, s);
  write_eval(run_dir, evaluate_run(run, eval_cache), config);
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
  std::shared_ptr<const TaskDescriber> trained_describer;
  if (trained.tasks.description != config.tasks.description) {
    trained_describer = std::make_shared<const TaskDescriber>(trained.tasks.description, config.data.dataset,
                                                              exp.train->meta, config.tasks.sampler == "domain");
    if (trained_describer->dim() != exp.describer->dim()) {
      throw ConfigError(config.source + ": tasks.description = \"" + config.tasks.description + "\" gives " +
                        std::to_string(exp.describer->dim()) + "-dimensional descriptions, but " + run_dir +
                        " was trained on \"" + trained.tasks.description + "\" ones of " +
                        std::to_string(trained_describer->dim()));
    }
  }
  StageContext ctx{exp, run_dir, true, {}, true};
  Stages s = run_stages(ctx);
  return trained_run(exp, s, std::move(trained_describer));
}

EvalSummary evaluate_run(TrainedRun& run, const std::string& cache_dir) {
  const std::vector<Task> tasks = run.exp.eval_tasks();
  EvaluationCache cache(run.exp, tasks, cache_dir);
  EvalSummary e;
  e.images = run.exp.test->size();
  e.classes = run.exp.num_classes();
  e.domains = run.exp.test->meta.domain_names;
  e.stage1 = cache.standard(run.stage1);
  if (!run.baseline.params.empty()) e.baseline = cache.standard(run.baseline);
  if (run.stage2.count() > 0) {
    e.stage2_selection = cache.bases_separately(run.stage2);
    TrainState average = uniform_average(run.exp, run.stage2);
    e.uniform_average = cache.standard(average);
  }
  if (!run.finetuned_average.params.empty()) e.finetuned_average = cache.standard(run.finetuned_average);
  e.taper = evaluate_taper(run.exp, run.taper, tasks);
  if (run.trained_describer) e.mixer_cosine = mean_mixer_cosine(run.exp, run.taper, tasks, *run.trained_describer);
  return e;
}

namespace {
// "name" overall (over images) and, when the data has several domains,
// "name@domain" per domain and "name@mean_over_domains" (Table 5's last column).
void put(nlohmann::json& j, const std::string& name, const Accuracy& a, const std::vector<std::string>& domains) {
  j[name] = a.overall();
  if (domains.size() < 2) return;
  double sum = 0.0;
  for (size_t d = 0; d < domains.size(); ++d) {
    j[name + "@" + domains[d]] = a.of_domain(d);
    sum += a.of_domain(d);
  }
  j[name + "@mean_over_domains"] = sum / static_cast<double>(domains.size());
}
}  // namespace

void write_eval(const std::string& run_dir, const EvalSummary& e, const RunConfig& config, const std::string& file) {
  nlohmann::json j = {{"test_images", e.images}, {"num_classes", e.classes}, {"eval_seed", config.tasks.eval_seed}};
  put(j, "stage1_standard", e.stage1.standard, e.domains);
  put(j, "stage1_classifier_selection", e.stage1.selection, e.domains);
  put(j, "taper_personalized", e.taper.personalized, e.domains);
  j["task_description"] = config.tasks.description;
  if (e.mixer_cosine) j["mixer_cosine"] = *e.mixer_cosine;
  if (config.baseline.epochs > 0) {
    put(j, "baseline_standard", e.baseline.standard, e.domains);
    put(j, "baseline_classifier_selection", e.baseline.selection, e.domains);
  }
  if (config.taper.training == "three-stage") {
    put(j, "stage2_classifier_selection", e.stage2_selection, e.domains);
    put(j, "uniform_average_classifier_selection", e.uniform_average.selection, e.domains);
  }
  if (config.finetune_average.epochs > 0) {
    put(j, "finetuned_average_classifier_selection", e.finetuned_average.selection, e.domains);
  }
  put(j, "taper_without_selection", e.taper.without_selection, e.domains);
  write_file_atomically(run_dir + "/" + file, j.dump(2) + "\n");
  std::printf("accuracy on %lld test images, each with its own task (k = %lld):\n", static_cast<long long>(e.images),
              static_cast<long long>(config.tasks.k));
  const std::pair<const char*, const char*> lines[] = {
      {"baseline_standard", "standard (baseline)"},
      {"baseline_classifier_selection", "classifier selection (baseline)"},
      {"stage1_standard", "standard (stage 1)"},
      {"stage1_classifier_selection", "classifier selection (stage 1)"},
      {"stage2_classifier_selection", "stage-2 bases, each with classifier selection"},
      {"uniform_average_classifier_selection", "uniform weight average of the bases, selection"},
      {"finetuned_average_classifier_selection", "the average fine-tuned, classifier selection"},
      {"taper_without_selection", "TAPER without classifier selection"},
      {"taper_personalized", "TAPER personalized"}};
  for (const auto& [key, text] : lines) {
    if (j.contains(key)) std::printf("  %-48s %6.2f%%\n", text, 100 * j[key].get<double>());
  }
  if (e.mixer_cosine) {
    std::printf("  mixer cosine, trained vs %s descriptions  %8.4f\n", config.tasks.description.c_str(), *e.mixer_cosine);
  }
}

}  // namespace taper

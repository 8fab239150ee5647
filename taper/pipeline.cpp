#include "taper/pipeline.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/atomic_file.h"

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

void train_run(const RunConfig& config, const std::string& run_dir, bool resume) {
  check_writable(run_dir);
  const Experiment exp = Experiment::create(config);
  prepare_dir(run_dir, config, resume);
  StageContext ctx{exp, run_dir, resume, {{"config", to_toml(config)}}, false};
  Stages s = run_stages(ctx);
  TrainedRun run{exp, s.stage1, s.taper, s.baseline};
  write_eval(run_dir, evaluate_run(run), config);
}

TrainedRun load_run(const std::string& run_dir, const RunConfig* evaluation) {
  const RunConfig trained = load_config(run_dir + "/config.toml");
  RunConfig config = evaluation ? *evaluation : trained;
  RunConfig same_tasks = config;
  same_tasks.tasks = trained.tasks;
  same_tasks.source = trained.source;
  if (to_toml(same_tasks) != to_toml(trained)) {
    throw ConfigError(config.source + ": an evaluation config may differ from the run's (" + run_dir +
                      "/config.toml) only in [tasks]");
  }
  const Experiment exp = Experiment::create(config);
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
  write_file_atomically(run_dir + "/" + file, j.dump(2) + "\n");
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

#include "taper/stage_runner.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "engine/atomic_file.h"
#include "engine/lr_schedule.h"
#include "engine/sgd.h"
#include "taper/divergence.h"
#include "taper/progress.h"

namespace taper {

namespace {

LrSchedule schedule_for(const StagePlan& plan) {
  const OptimConfig& o = plan.config.optim;
  LrSchedule s;
  s.kind = lr_schedule_kind(o.schedule);
  s.base_lr = o.lr;
  s.gamma = o.gamma;
  s.total_steps = plan.config.epochs * plan.steps_per_epoch;
  s.warmup_steps = o.warmup_epochs * plan.steps_per_epoch;
  for (int64_t e : o.decay_epochs) s.milestones.push_back(e * plan.steps_per_epoch);
  s.validate();
  return s;
}

std::vector<Tensor> ordered(const TensorMap& map) {
  std::vector<Tensor> list;
  for (const auto& [name, t] : map) list.push_back(t);
  return list;
}

// Momentum buffers travel between the optimizer (by position) and the
// checkpoint (by name).
void restore_momentum(Sgd& opt, const TrainState& state) {
  size_t i = 0;
  for (const auto& [name, p] : state.params) {
    auto it = state.momentum.find(name);
    if (it != state.momentum.end()) opt.momentum_buffers()[i] = it->second.to(p.device());
    ++i;
  }
}

void capture_momentum(Sgd& opt, TrainState& state) {
  size_t i = 0;
  for (const auto& [name, p] : state.params) {
    if (opt.momentum_buffers()[i].defined()) state.momentum[name] = opt.momentum_buffers()[i];
    ++i;
  }
}

void append_log(const std::string& run_dir, const nlohmann::json& line) {
  std::ofstream log(run_dir + "/log.jsonl", std::ios::app);
  log << line.dump() << "\n";
  if (!log) throw std::runtime_error(run_dir + "/log.jsonl: cannot append the epoch log");
}

// A kill between writing an epoch's log line and its checkpoint leaves a
// line for an epoch the checkpoint lacks, and a kill during the append can
// leave a partial last line; resuming drops both (the epoch is trained again
// and logged again).
void prune_log(const std::string& run_dir, const std::string& stage, int64_t epochs_done) {
  const std::string path = run_dir + "/log.jsonl";
  std::ifstream in(path);
  if (!in) return;
  std::string kept, line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    const bool stale = !j.is_object() || (j.value("stage", "") == stage && j.value("epoch", 0) > epochs_done);
    if (!stale) kept += line + "\n";
  }
  in.close();
  write_file_atomically(path, kept);
}

}  // namespace

std::string stage_file(const std::string& run_dir, const std::string& stage) {
  return run_dir + "/" + stage + ".safetensors";
}

bool load_finished_stage(const std::string& run_dir, const StagePlan& plan, TrainState& state) {
  const std::string path = stage_file(run_dir, plan.name);
  if (!std::filesystem::exists(path)) return false;
  load_state(path, state);
  return state.epochs_done >= plan.config.epochs;
}

void run_stage(const std::string& run_dir, const StagePlan& plan, TrainState& state, bool resume,
               const std::map<std::string, std::string>& metadata) {
  const std::string path = stage_file(run_dir, plan.name);
  if (std::filesystem::exists(path)) {
    if (!resume) throw std::runtime_error(path + " exists: pass --resume to continue this run, or use a new --out");
    load_state(path, state);
  }
  if (state.epochs_done >= plan.config.epochs) {
    // A stage configured with zero epochs still leaves its (initial) state,
    // so that a finished run can always be loaded back.
    if (!std::filesystem::exists(path)) save_state(path, state, metadata);
    return;
  }
  prune_log(run_dir, plan.name, state.epochs_done);
  Sgd opt(ordered(state.params), SgdHyper{static_cast<float>(plan.config.optim.lr),
                                          static_cast<float>(plan.config.optim.momentum), 0.0f,
                                          static_cast<float>(plan.config.optim.weight_decay), false});
  restore_momentum(opt, state);
  const LrSchedule schedule = schedule_for(plan);
  for (int64_t epoch = state.epochs_done; epoch < plan.config.epochs; ++epoch) {
    plan.begin_epoch(epoch);
    ProgressBar bar(plan.name + " epoch " + std::to_string(epoch + 1) + "/" + std::to_string(plan.config.epochs),
                    plan.steps_per_epoch, "step");
    double loss_sum = 0.0;
    int64_t correct = 0, images = 0;
    const auto start = std::chrono::steady_clock::now();
    char metrics[96];
    for (int64_t s = 0; s < plan.steps_per_epoch; ++s) {
      opt.set_lr(static_cast<float>(schedule.lr(epoch * plan.steps_per_epoch + s)));
      opt.zero_grad();
      const StepOutcome out = plan.step();
      const StepPlace at{plan.name, epoch + 1, s + 1, epoch * plan.steps_per_epoch + s + 1, path, state.epochs_done};
      check_loss(out.loss, at);
      check_gradients(state.params, at);
      // Data parallelism goes here and nowhere else: one process per GPU,
      // each stepping on its shard of the batch, all-reduce (NCCL) of every
      // parameter's .grad() before the identical update on every rank.
      opt.step();
      loss_sum += out.loss;
      correct += out.correct;
      images += out.images;
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::snprintf(metrics, sizeof metrics, "loss %.4f  acc %.3f  %.0f img/s", loss_sum / (s + 1),
                    images ? double(correct) / images : 0.0, images / std::max(secs, 1e-9));
      bar.update(s + 1, metrics);
    }
    bar.finish(metrics);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // Log first, checkpoint second: a kill in between leaves a log line that
    // prune_log removes on resume, never a checkpointed epoch without its line.
    append_log(run_dir, {{"stage", plan.name},
                         {"epoch", epoch + 1},
                         {"loss", loss_sum / plan.steps_per_epoch},
                         {"train_accuracy", images ? double(correct) / images : 0.0},
                         {"lr", opt.lr()},
                         {"images_per_second", images / std::max(secs, 1e-9)},
                         {"seconds", secs}});
    state.epochs_done = epoch + 1;
    capture_momentum(opt, state);
    check_state(state, {plan.name, epoch + 1, plan.steps_per_epoch, (epoch + 1) * plan.steps_per_epoch, path, epoch});
    std::map<std::string, std::string> meta = metadata;
    meta["stage"] = plan.name;
    save_state(path, state, meta);
  }
}

}  // namespace taper

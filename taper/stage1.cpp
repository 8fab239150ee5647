// Stage 1 of §3.4: one network learns all classes with plain cross-entropy.
// The same recipe trains the standard baseline for the total epoch budget
// and fine-tunes the stage-2 weight average (Table 6 row 7).
#include <memory>

#include "engine/ops.h"
#include "nn/metrics.h"
#include "taper/stage_runner.h"
#include "taper/stages.h"

namespace taper {

TrainState fresh_network(const Experiment& exp) {
  Generator gen = Generator(exp.config.seed).fork(1);
  TrainState state{exp.arch.init_parameters(gen), exp.arch.init_buffers(), {}, 0};
  move_state(state, exp.device);
  return state;
}

TrainState train_standard(const StageContext& ctx, const std::string& name, const StageConfig& stage,
                          TrainState state) {
  const Experiment& exp = ctx.exp;
  move_state(state, exp.device);
  auto loader = std::make_shared<Loader>(exp.train, exp.loader_options(stage.optim.batch, true), exp.transform(true));
  StagePlan plan;
  plan.name = name;
  plan.config = stage;
  plan.steps_per_epoch = loader->batches_per_epoch();
  if (load_finished_stage(ctx.run_dir, plan, state)) return state;
  require_trainable(ctx, plan.name);
  plan.begin_epoch = [loader](int64_t epoch) { loader->start_epoch(epoch); };
  plan.step = [&exp, &state, loader]() {
    Batch b;
    loader->next(b);
    const DeviceBatch d = to_device(b, exp.device);
    Tensor logits = exp.arch.forward(state.params, state.buffers, d.images, true);
    Tensor loss = cross_entropy(logits, d.labels);
    loss.backward();
    return StepOutcome{loss.item(), count_correct(logits, b.labels), b.labels.numel()};
  };
  run_stage(ctx.run_dir, plan, state, ctx.resume, ctx.metadata);
  return state;
}

}  // namespace taper

namespace taper {

void require_trainable(const StageContext& ctx, const std::string& stage) {
  if (ctx.load_only) {
    throw std::runtime_error(stage_file(ctx.run_dir, stage) +
                             " is missing or unfinished: finish the run with `taper train CONFIG --out " +
                             ctx.run_dir + " --resume`");
  }
}

}  // namespace taper

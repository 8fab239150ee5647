// Stage 2 of §3.4: Q copies of the stage-1 network, each fine-tuned on one
// shard of the data, become the initial bases ("slightly different
// specialists"). Shards are chunks of the class list or, with
// taper.shards = "domains", the domains (Q / #domains bases per domain, each
// on a chunk of the classes within its domain: Table 5's "3 bases per domain").
#include <cstdio>
#include <memory>

#include "data/subset.h"
#include "taper/classifier_selection.h"
#include "taper/stage_runner.h"
#include "taper/stages.h"

namespace taper {

std::vector<int64_t> shard_classes(int64_t num_classes, int64_t shard, int64_t shards) {
  check_arg(0 <= shard && shard < shards && shards <= num_classes, "shard_classes", [&] {
    return "shard " + std::to_string(shard) + " of " + std::to_string(shards) + " over " + std::to_string(num_classes) +
           " classes";
  });
  std::vector<int64_t> classes;
  for (int64_t c = shard * num_classes / shards; c < (shard + 1) * num_classes / shards; ++c) classes.push_back(c);
  return classes;
}

namespace {

struct Shard {
  std::vector<int64_t> classes;
  int64_t domain = -1;
};

Shard shard_of(const Experiment& exp, int64_t q) {
  const int64_t bases = exp.config.taper.bases, classes = exp.num_classes();
  if (exp.config.taper.shards == "classes") return {shard_classes(classes, q, bases), -1};
  const int64_t domains = static_cast<int64_t>(exp.train->meta.domain_names.size());
  if (domains < 2 || bases % domains != 0) {
    throw ConfigError(exp.config.source + ": taper.shards = \"domains\" needs a dataset with domains and taper.bases a "
                      "multiple of their number (" + std::to_string(domains) + ")");
  }
  const int64_t per_domain = bases / domains;
  return {shard_classes(classes, q % per_domain, per_domain), q / per_domain};
}

TrainState deep_copy(const TrainState& s) {
  TrainState c;
  for (const auto& [n, t] : s.params) c.params[n] = t.clone().set_requires_grad(true);
  for (const auto& [n, t] : s.buffers) c.buffers[n] = t.clone();
  return c;
}

TrainState fine_tune(const StageContext& ctx, const TrainState& stage1, int64_t q) {
  const Experiment& exp = ctx.exp;
  const Shard shard = shard_of(exp, q);
  auto data = std::make_shared<const Dataset>(select_images(*exp.train, images_of(*exp.train, shard.classes, shard.domain)));
  if (data->size() == 0) {
    throw ConfigError(exp.config.source + ": stage-2 shard " + std::to_string(q) + " has no training images" +
                      (shard.domain >= 0 ? " in domain " + exp.train->meta.domain_names[shard.domain] : ""));
  }
  TrainState state = deep_copy(stage1);
  // A shard may hold fewer images than a batch at tiny scales.
  const int64_t batch = std::min<int64_t>(exp.config.stage2.optim.batch, data->size());
  auto loader = std::make_shared<Loader>(data, exp.loader_options(batch, true), exp.transform(true));
  char name[48];  // room for any int64
  std::snprintf(name, sizeof name, "stage2.shard%02lld", static_cast<long long>(q));
  StagePlan plan{name, exp.config.stage2, loader->batches_per_epoch(), nullptr, nullptr};
  if (load_finished_stage(ctx.run_dir, plan, state)) return state;
  require_trainable(ctx, plan.name);
  plan.begin_epoch = [loader](int64_t epoch) { loader->start_epoch(epoch); };
  plan.step = [&exp, &state, loader, classes = shard.classes]() {
    Batch b;
    loader->next(b);
    const DeviceBatch d = to_device(b, exp.device);
    const std::vector<std::vector<int64_t>> tasks(b.labels.numel(), classes);
    Tensor logits = exp.arch.forward(state.params, state.buffers, d.images, true);
    Tensor loss = selected_cross_entropy(logits, d.labels, tasks);
    loss.backward();
    const Tensor host = logits.to(Device::cpu());
    int64_t correct = 0;
    for (int64_t i = 0; i < b.labels.numel(); ++i) {
      correct += predict(host.f32() + i * host.size(1), host.size(1), classes) == b.labels.i64()[i];
    }
    return StepOutcome{loss.item(), correct, b.labels.numel()};
  };
  run_stage(ctx.run_dir, plan, state, ctx.resume, ctx.metadata);
  return state;
}

}  // namespace

Bases train_stage2(const StageContext& ctx, const TrainState& stage1) {
  Bases bases;
  for (int64_t q = 0; q < ctx.exp.config.taper.bases; ++q) {
    TrainState s = fine_tune(ctx, stage1, q);
    bases.params.push_back(std::move(s.params));
    bases.buffers.push_back(std::move(s.buffers));
  }
  return bases;
}

Bases random_bases(const Experiment& exp) {
  Bases bases;
  for (int64_t q = 0; q < exp.config.taper.bases; ++q) {
    Generator gen = Generator(exp.config.seed).fork(100 + q);
    bases.params.push_back(exp.arch.init_parameters(gen));
    bases.buffers.push_back(exp.arch.init_buffers());
  }
  return bases;
}

}  // namespace taper

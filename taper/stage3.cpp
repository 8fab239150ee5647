// Stage 3 of §3.4: bases and mixer predictor learn jointly on sampled tasks
// (equation 2). A batch holds G task groups; each group has its own task,
// its own mixers and mixed weights (equation 1), and images whose labels lie
// in its task; its loss is the cross-entropy over the task's classes
// (classifier selection). The batch loss is the mean over groups.
#include <memory>

#include "data/subset.h"
#include "engine/ops.h"
#include "taper/classifier_selection.h"
#include "taper/stage_runner.h"
#include "taper/stages.h"

namespace taper {

namespace {

// One epoch's task groups: the loader's image order (group after group) and
// each group's task. A pure function of (seed, epoch).
struct GroupPlan {
  std::vector<int64_t> order;
  std::vector<Task> tasks;
};

class GroupPlanner {
 public:
  GroupPlanner(const Experiment& exp, int64_t groups_per_epoch, int64_t group_size)
      : exp_(exp), groups_(groups_per_epoch), size_(group_size) {
    const Dataset& d = *exp.train;
    const int64_t domains = std::max<int64_t>(1, static_cast<int64_t>(d.meta.domain_names.size()));
    by_class_domain_.assign(d.meta.num_classes() * domains, {});
    for (int64_t i = 0; i < d.size(); ++i) by_class_domain_[d.labels[i] * domains + domain(i)].push_back(i);
    domains_ = domains;
  }

  GroupPlan plan(int64_t epoch) const {
    GroupPlan p;
    const Generator base(exp_.config.seed ^ 0x57a6e3ull, static_cast<uint64_t>(epoch));
    for (int64_t g = 0; g < groups_; ++g) {
      Generator gen = base.fork(static_cast<uint64_t>(g));
      const int64_t anchor = static_cast<int64_t>(gen.below(exp_.train->size()));
      Task task = exp_.sampler.sample(exp_.train->labels[anchor], domain(anchor), gen);
      const std::vector<int64_t> pool = members(task);
      p.order.push_back(anchor);
      for (int64_t m = 1; m < size_; ++m) p.order.push_back(pool[gen.below(pool.size())]);
      p.tasks.push_back(std::move(task));
    }
    return p;
  }

 private:
  int64_t domain(int64_t i) const { return exp_.train->domains.empty() ? 0 : exp_.train->domains[i]; }

  // Images of the task's classes (within the task's domain when it has one).
  std::vector<int64_t> members(const Task& t) const {
    std::vector<int64_t> pool;
    for (int64_t c : t.classes) {
      for (int64_t d = 0; d < domains_; ++d) {
        if (t.domain >= 0 && d != t.domain) continue;
        const auto& list = by_class_domain_[c * domains_ + d];
        pool.insert(pool.end(), list.begin(), list.end());
      }
    }
    return pool;
  }

  const Experiment& exp_;
  int64_t groups_, size_, domains_ = 1;
  std::vector<std::vector<int64_t>> by_class_domain_;
};

std::string basis_key(int64_t q, const std::string& name) { return "basis." + std::to_string(q) + "." + name; }

// The run state holds every learnable under one flat name; Bases and the
// predictor maps are views of the same tensors.
TrainState flatten(const Bases& bases, const TensorMap& pred_params, const TensorMap& pred_buffers) {
  TrainState s;
  for (int64_t q = 0; q < bases.count(); ++q) {
    for (const auto& [n, t] : bases.params[q]) s.params[basis_key(q, n)] = t;
    for (const auto& [n, t] : bases.buffers[q]) s.buffers[basis_key(q, n)] = t;
  }
  for (const auto& [n, t] : pred_params) s.params["predictor." + n] = t;
  for (const auto& [n, t] : pred_buffers) s.buffers["predictor." + n] = t;
  return s;
}

TaperModel views(const TrainState& s, const Experiment& exp) {
  TaperModel m;
  for (int64_t q = 0; q < exp.config.taper.bases; ++q) {
    TensorMap p, b;
    for (const TensorSpec& spec : exp.arch.parameters()) p[spec.name] = s.params.at(basis_key(q, spec.name));
    for (const TensorSpec& spec : exp.arch.buffers()) b[spec.name] = s.buffers.at(basis_key(q, spec.name));
    m.bases.params.push_back(p);
    m.bases.buffers.push_back(b);
  }
  for (const auto& [n, t] : s.params) {
    if (n.rfind("predictor.", 0) == 0) m.predictor_params[n.substr(10)] = t;
  }
  for (const auto& [n, t] : s.buffers) {
    if (n.rfind("predictor.", 0) == 0) m.predictor_buffers[n.substr(10)] = t;
  }
  return m;
}

// One group: a training forward with its mixed parameters (leaves, see
// mix_parameter_leaves), the selected loss; the basis running statistics
// receive their share of the group's update.
Tensor group_loss(const Experiment& exp, TaperModel& model, const TensorMap& params, const std::vector<Tensor>& alpha,
                  const Tensor& images, const Tensor& labels, const Task& task, int64_t* correct) {
  const TensorMap before = mix_buffers(exp.arch, exp.layout, model.bases, alpha);
  TensorMap after;
  for (const auto& [n, t] : before) after[n] = t.clone();
  const DeviceBatch d = to_device({images, labels, {}, {}}, exp.device);
  Tensor logits = exp.arch.forward(params, after, d.images, true);
  distribute_buffer_updates(exp.arch, exp.layout, before, after, alpha, model.bases);
  const Tensor host = logits.to(Device::cpu());
  for (int64_t i = 0; i < labels.numel(); ++i) {
    *correct += predict(host.f32() + i * host.size(1), host.size(1), task.classes) == labels.i64()[i];
  }
  return selected_cross_entropy(logits, d.labels, std::vector<std::vector<int64_t>>(labels.numel(), task.classes));
}

// With taper.bn_stats = "shared", every basis views one set of running
// statistics (basis 0's), so mixing them is the identity.
void share_buffers(Bases& bases) {
  for (int64_t q = 1; q < bases.count(); ++q) bases.buffers[q] = bases.buffers[0];
}

}  // namespace

TaperModel train_stage3(const StageContext& ctx, Bases initial, const std::string& name, const StageConfig& stage) {
  const Experiment& exp = ctx.exp;
  const int64_t groups = exp.config.taper.groups, group_size = std::max<int64_t>(1, stage.optim.batch / groups);
  if (exp.config.taper.bn_stats == "shared") share_buffers(initial);
  Generator gen = Generator(exp.config.seed).fork(3);
  TrainState state = flatten(initial, exp.predictor.init_parameters(gen), exp.predictor.init_buffers());
  move_state(state, exp.device);  // parameters become leaves that require grad
  const int64_t steps = std::max<int64_t>(1, exp.train->size() / (groups * group_size));
  auto planner = std::make_shared<GroupPlanner>(exp, steps * groups, group_size);
  auto plan_now = std::make_shared<GroupPlan>();
  LoaderOptions lo = exp.loader_options(groups * group_size, true);
  lo.order = [plan_now](int64_t) { return plan_now->order; };
  auto loader = std::make_shared<Loader>(exp.train, lo, exp.transform(true));
  StagePlan plan{name, stage, steps, nullptr, nullptr};
  auto model = std::make_shared<TaperModel>(views(state, exp));
  if (load_finished_stage(ctx.run_dir, plan, state)) return *model;
  require_trainable(ctx, plan.name);
  auto step_index = std::make_shared<int64_t>(0);
  plan.begin_epoch = [planner, plan_now, loader, step_index](int64_t epoch) {
    *plan_now = planner->plan(epoch);
    *step_index = 0;
    loader->start_epoch(epoch);
  };
  plan.step = [&exp, model, plan_now, loader, step_index, groups, group_size]() {
    Batch b;
    loader->next(b);
    const int64_t first = (*step_index)++ * groups;
    const std::vector<Task> tasks(plan_now->tasks.begin() + first, plan_now->tasks.begin() + first + groups);
    auto alphas = exp.predictor.mixers(model->predictor_params, model->predictor_buffers, exp.describe_all(tasks).to(exp.device), true);
    std::vector<TensorMap> mixed;
    Tensor total;
    int64_t correct = 0;
    for (int64_t g = 0; g < groups; ++g) {
      mixed.push_back(mix_parameter_leaves(exp.arch, exp.layout, model->bases, alphas[g]));
      Tensor loss = group_loss(exp, *model, mixed.back(), alphas[g],
                               slice_rows(b.images, g * group_size, (g + 1) * group_size),
                               slice_rows(b.labels, g * group_size, (g + 1) * group_size), tasks[g], &correct);
      loss = scale(loss, 1.0f / static_cast<float>(groups));
      total = total.defined() ? add(total, loss) : loss;
    }
    total.backward();  // to each group's mixed parameters
    backward_into_mixers(alphas, backward_mixing(exp.arch, exp.layout, model->bases, alphas, mixed));
    return StepOutcome{total.item(), correct, b.labels.numel()};
  };
  run_stage(ctx.run_dir, plan, state, ctx.resume, ctx.metadata);
  return *model;
}

}  // namespace taper

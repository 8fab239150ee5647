#include "taper/self_improvement.h"

#include <algorithm>
#include <numeric>

#include "data/subset.h"
#include "engine/autograd.h"
#include "taper/classifier_selection.h"
#include "taper/personalize.h"
#include "taper/progress.h"

namespace taper {

namespace {

// The task's test images, shuffled, decoded once: the stream the device sees.
std::vector<Batch> task_stream(const Experiment& exp, const Task& task, Generator& gen) {
  std::vector<int64_t> pool = images_of(*exp.test, task.classes, task.domain);
  gen.shuffle(pool);
  return decode_images(exp, exp.test, std::move(pool));
}

struct Predictions {
  std::vector<int64_t> labels, all_classes, within;  // per image: truth, arg-max over all, arg-max within `classes`
};

Predictions predict_stream(const Experiment& exp, const TensorMap& params, TensorMap& buffers,
                           const std::vector<Batch>& stream, const std::vector<int64_t>& classes) {
  Predictions p;
  for (const Batch& b : stream) {
    const Tensor logits = exp.arch.forward(params, buffers, b.images, false);
    const int64_t c = logits.size(1);
    for (int64_t r = 0; r < b.labels.numel(); ++r) {
      p.labels.push_back(b.labels.i64()[r]);
      p.all_classes.push_back(predict(logits.f32() + r * c, c, {}));
      p.within.push_back(predict(logits.f32() + r * c, c, classes));
    }
  }
  return p;
}

double accuracy(const std::vector<int64_t>& predicted, const std::vector<int64_t>& labels) {
  int64_t hits = 0;
  for (size_t i = 0; i < labels.size(); ++i) hits += predicted[i] == labels[i];
  return labels.empty() ? 0.0 : double(hits) / labels.size();
}

// The k classes predicted most often (ties to the smaller class id), sorted.
std::vector<int64_t> top_k(const std::vector<int64_t>& counts, size_t k) {
  std::vector<int64_t> order(counts.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return counts[a] > counts[b]; });
  order.resize(std::min(k, order.size()));
  std::sort(order.begin(), order.end());
  return order;
}

double recall(const std::vector<int64_t>& estimate, const std::vector<int64_t>& truth) {
  int64_t found = 0;
  for (int64_t c : truth) found += std::binary_search(estimate.begin(), estimate.end(), c);
  return double(found) / truth.size();
}

// The images of step s: the s-th of `steps` equal slices of the stream.
void count_slice(const std::vector<int64_t>& predicted, int64_t s, int64_t steps, std::vector<int64_t>& counts) {
  const size_t n = predicted.size(), begin = n * s / steps, end = n * (s + 1) / steps;
  for (size_t i = begin; i < end; ++i) ++counts[predicted[i]];
}

}  // namespace

SelfImprovementCurve self_improvement(const Experiment& exp, TrainState& standard, const TaperModel& model,
                                      const SelfImprovementOptions& o) {
  NoGradGuard no_grad;
  SelfImprovementCurve curve{std::vector<double>(o.steps + 1, 0.0), std::vector<double>(o.steps + 1, 0.0), 0, 0};
  ProgressBar bar("self-improvement (" + std::to_string(o.steps) + " steps per task)", o.tasks, "tasks");
  for (int64_t t = 0; t < o.tasks; ++t) {
    Generator gen = Generator(o.seed).fork(static_cast<uint64_t>(t));
    const int64_t anchor = static_cast<int64_t>(gen.below(exp.test->size()));
    const int64_t domain = exp.test->domains.empty() ? -1 : exp.test->domains[anchor];
    const Task truth = exp.sampler.sample(exp.test->labels[anchor], domain, gen);
    const std::vector<Batch> stream = task_stream(exp, truth, gen);

    const Predictions first = predict_stream(exp, standard.params, standard.buffers, stream, truth.classes);
    curve.accuracy[0] += accuracy(first.all_classes, first.labels) / o.tasks;
    curve.oracle_selection += accuracy(first.within, first.labels) / o.tasks;
    MixedNetwork oracle = mix_for_task(exp, model, truth);
    const Predictions best = predict_stream(exp, oracle.params, oracle.buffers, stream, truth.classes);
    curve.oracle += accuracy(best.within, best.labels) / o.tasks;

    std::vector<int64_t> counts(exp.num_classes(), 0);
    count_slice(first.all_classes, 0, o.steps, counts);
    for (int64_t s = 1; s <= o.steps; ++s) {
      const Task estimate{top_k(counts, truth.classes.size()), -1};
      MixedNetwork m = mix_for_task(exp, model, estimate);
      const Predictions p = predict_stream(exp, m.params, m.buffers, stream, estimate.classes);
      curve.accuracy[s] += accuracy(p.within, p.labels) / o.tasks;
      curve.recall[s] += recall(estimate.classes, truth.classes) / o.tasks;
      if (s < o.steps) count_slice(p.all_classes, s, o.steps, counts);
    }
    bar.update(t + 1, "");
  }
  bar.finish("");
  return curve;
}

}  // namespace taper

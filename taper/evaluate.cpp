#include "taper/evaluate.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "engine/autograd.h"
#include "taper/classifier_selection.h"
#include "taper/personalize.h"
#include "taper/progress.h"

namespace taper {

namespace {
constexpr int64_t kEvalBatch = 256;

Loader eval_loader(const Experiment& exp, int64_t batch) {
  return Loader(exp.test, exp.loader_options(std::min<int64_t>(batch, exp.test->size()), false), exp.transform(false));
}
}  // namespace

size_t domain_count(const Experiment& exp) { return std::max<size_t>(1, exp.test->meta.domain_names.size()); }

void Accuracy::add(bool hit, int64_t domain) {
  correct += hit;
  ++total;
  domain_correct.at(domain) += hit;
  ++domain_total.at(domain);
}

void Accuracy::merge(const Accuracy& other) {
  if (other.domain_total.size() != domain_total.size()) {
    throw std::logic_error("Accuracy::merge: " + std::to_string(other.domain_total.size()) + " domains into " +
                           std::to_string(domain_total.size()));
  }
  correct += other.correct;
  total += other.total;
  for (size_t d = 0; d < domain_total.size(); ++d) {
    domain_correct[d] += other.domain_correct[d];
    domain_total[d] += other.domain_total[d];
  }
}

StandardAccuracy evaluate_standard(const Experiment& exp, TrainState& net, const std::vector<Task>& tasks) {
  NoGradGuard no_grad;
  Loader loader = eval_loader(exp, kEvalBatch);
  loader.start_epoch(0);
  StandardAccuracy acc{Accuracy(domain_count(exp)), Accuracy(domain_count(exp))};
  Batch b;
  while (loader.next(b)) {
    const Tensor logits = exp.arch.forward(net.params, net.buffers, b.images.to(exp.device), false).to(Device::cpu());
    for (int64_t r = 0; r < b.labels.numel(); ++r) {
      const float* row = logits.f32() + r * logits.size(1);
      const int64_t label = b.labels.i64()[r], domain = b.domains.i64()[r];
      acc.standard.add(predict(row, logits.size(1), {}) == label, domain);
      acc.selection.add(predict(row, logits.size(1), tasks.at(b.indices[r]).classes) == label, domain);
    }
  }
  return acc;
}

TaperAccuracy evaluate_taper(const Experiment& exp, const TaperModel& model, const std::vector<Task>& tasks) {
  NoGradGuard no_grad;
  Loader loader = eval_loader(exp, 1);
  loader.start_epoch(0);
  ProgressBar bar("eval TAPER (one personalized model per test image)", exp.test->size(), "img");
  TaperAccuracy acc{Accuracy(domain_count(exp)), Accuracy(domain_count(exp))};
  Batch b;
  while (loader.next(b)) {
    const Task& task = tasks.at(b.indices[0]);
    // The personalized network is this one with only the task's classifier
    // rows (personalize()); selecting those rows' logits is the same.
    MixedNetwork m = mix_for_task(exp, model, task);
    const Tensor logits = exp.arch.forward(m.params, m.buffers, b.images.to(exp.device), false).to(Device::cpu());
    const int64_t label = b.labels.i64()[0], domain = b.domains.i64()[0];
    acc.personalized.add(predict(logits.f32(), logits.size(1), task.classes) == label, domain);
    acc.without_selection.add(predict(logits.f32(), logits.size(1), {}) == label, domain);
    bar.update(acc.personalized.total, "acc " + std::to_string(acc.personalized.overall()).substr(0, 5));
  }
  bar.finish("acc " + std::to_string(acc.personalized.overall()).substr(0, 5));
  return acc;
}

namespace {
// Every block's mixers of each task, flattened: [G][blocks * Q].
std::vector<std::vector<double>> flat_mixers(const Experiment& exp, const TaperModel& model, const Tensor& descriptions) {
  TensorMap buffers = model.predictor_buffers;
  std::vector<std::vector<double>> out;
  for (const auto& blocks : exp.predictor.mixers(model.predictor_params, buffers, descriptions, false)) {
    std::vector<double>& v = out.emplace_back();
    for (const Tensor& a : blocks) {
      for (float x : a.to_vector()) v.push_back(x);
    }
  }
  return out;
}

double cosine(const std::vector<double>& a, const std::vector<double>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) ab += a[i] * b[i], aa += a[i] * a[i], bb += b[i] * b[i];
  return ab / std::sqrt(aa * bb);
}
}  // namespace

double mean_mixer_cosine(const Experiment& exp, const TaperModel& model, const std::vector<Task>& tasks,
                         const TaskDescriber& other) {
  if (other.dim() != exp.describer->dim()) {
    throw std::invalid_argument("mixer cosine: '" + other.kind() + "' descriptions have " + std::to_string(other.dim()) +
                                " dimensions, the predictor reads " + std::to_string(exp.describer->dim()) + " ('" +
                                exp.describer->kind() + "')");
  }
  NoGradGuard no_grad;
  double sum = 0.0;
  for (size_t begin = 0; begin < tasks.size(); begin += kEvalBatch) {
    const std::vector<Task> chunk(tasks.begin() + begin, tasks.begin() + std::min(tasks.size(), begin + kEvalBatch));
    Tensor theirs = Tensor::empty({static_cast<int64_t>(chunk.size()), other.dim()});
    for (size_t g = 0; g < chunk.size(); ++g) {
      const std::vector<float> d = other.describe(chunk[g]);
      std::copy(d.begin(), d.end(), theirs.f32() + g * other.dim());
    }
    const auto a = flat_mixers(exp, model, exp.describe_all(chunk)), b = flat_mixers(exp, model, theirs);
    for (size_t g = 0; g < chunk.size(); ++g) sum += cosine(a[g], b[g]);
  }
  return tasks.empty() ? 0.0 : sum / static_cast<double>(tasks.size());
}

}  // namespace taper

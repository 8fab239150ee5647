#include "taper/evaluate.h"

#include "engine/autograd.h"
#include "taper/classifier_selection.h"
#include "taper/personalize.h"
#include "taper/progress.h"

namespace taper {

namespace {
constexpr int64_t kEvalBatch = 256;

size_t domain_count(const Experiment& exp) { return std::max<size_t>(1, exp.test->meta.domain_names.size()); }

Loader eval_loader(const Experiment& exp, int64_t batch) {
  return Loader(exp.test, exp.loader_options(std::min<int64_t>(batch, exp.test->size()), false), exp.transform(false));
}
}  // namespace

void Accuracy::add(bool hit, int64_t domain) {
  correct += hit;
  ++total;
  domain_correct.at(domain) += hit;
  ++domain_total.at(domain);
}

StandardAccuracy evaluate_standard(const Experiment& exp, TrainState& net, const std::vector<Task>& tasks) {
  NoGradGuard no_grad;
  Loader loader = eval_loader(exp, kEvalBatch);
  loader.start_epoch(0);
  StandardAccuracy acc{Accuracy(domain_count(exp)), Accuracy(domain_count(exp))};
  Batch b;
  while (loader.next(b)) {
    const Tensor logits = exp.arch.forward(net.params, net.buffers, b.images, false);
    for (int64_t r = 0; r < b.labels.numel(); ++r) {
      const float* row = logits.f32() + r * logits.size(1);
      const int64_t label = b.labels.i64()[r], domain = b.domains.i64()[r];
      acc.standard.add(predict(row, logits.size(1), {}) == label, domain);
      acc.selection.add(predict(row, logits.size(1), tasks.at(b.indices[r]).classes) == label, domain);
    }
  }
  return acc;
}

Accuracy evaluate_bases_separately(const Experiment& exp, const Bases& bases, const std::vector<Task>& tasks) {
  Accuracy pooled(domain_count(exp));
  for (int64_t q = 0; q < bases.count(); ++q) {
    TrainState basis{bases.params[q], bases.buffers[q], {}, 0};
    const Accuracy a = evaluate_standard(exp, basis, tasks).selection;
    pooled.correct += a.correct;
    pooled.total += a.total;
    for (size_t d = 0; d < pooled.domain_total.size(); ++d) {
      pooled.domain_correct[d] += a.domain_correct[d];
      pooled.domain_total[d] += a.domain_total[d];
    }
  }
  return pooled;
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
    const Tensor logits = exp.arch.forward(m.params, m.buffers, b.images, false);
    const int64_t label = b.labels.i64()[0], domain = b.domains.i64()[0];
    acc.personalized.add(predict(logits.f32(), logits.size(1), task.classes) == label, domain);
    acc.without_selection.add(predict(logits.f32(), logits.size(1), {}) == label, domain);
    bar.update(acc.personalized.total, "acc " + std::to_string(acc.personalized.overall()).substr(0, 5));
  }
  bar.finish("acc " + std::to_string(acc.personalized.overall()).substr(0, 5));
  return acc;
}

}  // namespace taper

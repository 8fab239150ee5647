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

Accuracy evaluate_taper(const Experiment& exp, const TaperModel& model, const std::vector<Task>& tasks) {
  NoGradGuard no_grad;
  Loader loader = eval_loader(exp, 1);
  loader.start_epoch(0);
  ProgressBar bar("eval TAPER (one personalized model per test image)", exp.test->size(), "img");
  Accuracy acc(domain_count(exp));
  Batch b;
  while (loader.next(b)) {
    const Task& task = tasks.at(b.indices[0]);
    PersonalizedModel m = personalize(exp, model, task);
    const ResNet net(m.arch);
    const Tensor logits = net.forward(m.params, m.buffers, b.images.to(exp.device), false).to(Device::cpu());
    // Row r of the condensed classifier is class task.classes[r].
    const int64_t pick = predict(logits.f32(), logits.size(1), {});
    acc.add(task.classes[pick] == b.labels.i64()[0], b.domains.i64()[0]);
    bar.update(acc.total, "acc " + std::to_string(acc.overall()).substr(0, 5));
  }
  bar.finish("acc " + std::to_string(acc.overall()).substr(0, 5));
  return acc;
}

}  // namespace taper

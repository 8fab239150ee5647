#include "taper/evaluate.h"

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

StandardAccuracy evaluate_standard(const Experiment& exp, TrainState& net, const std::vector<Task>& tasks) {
  NoGradGuard no_grad;
  Loader loader = eval_loader(exp, kEvalBatch);
  loader.start_epoch(0);
  int64_t standard = 0, selected = 0;
  Batch b;
  while (loader.next(b)) {
    const Tensor logits = exp.arch.forward(net.params, net.buffers, b.images, false);
    for (int64_t r = 0; r < b.labels.numel(); ++r) {
      const float* row = logits.f32() + r * logits.size(1);
      const int64_t label = b.labels.i64()[r];
      standard += predict(row, logits.size(1), {}) == label;
      selected += predict(row, logits.size(1), tasks.at(b.indices[r]).classes) == label;
    }
  }
  return {double(standard) / exp.test->size(), double(selected) / exp.test->size()};
}

double evaluate_taper(const Experiment& exp, const TaperModel& model, const std::vector<Task>& tasks) {
  NoGradGuard no_grad;
  Loader loader = eval_loader(exp, 1);
  loader.start_epoch(0);
  ProgressBar bar("eval TAPER (one personalized model per test image)", exp.test->size(), "img");
  int64_t correct = 0, seen = 0;
  Batch b;
  while (loader.next(b)) {
    const Task& task = tasks.at(b.indices[0]);
    PersonalizedModel m = personalize(exp, model, task);
    const ResNet net(m.arch);
    const Tensor logits = net.forward(m.params, m.buffers, b.images, false);
    // Row r of the condensed classifier is class task.classes[r].
    const int64_t pick = predict(logits.f32(), logits.size(1), {});
    correct += task.classes[pick] == b.labels.i64()[0];
    bar.update(++seen, "acc " + std::to_string(double(correct) / seen).substr(0, 5));
  }
  bar.finish("acc " + std::to_string(double(correct) / seen).substr(0, 5));
  return double(correct) / exp.test->size();
}

}  // namespace taper

#include "taper/classifier_selection.h"

#include <algorithm>
#include <cstring>

#include "engine/ops.h"

namespace taper {

Tensor task_mask(const std::vector<std::vector<int64_t>>& row_tasks, int64_t num_classes) {
  const int64_t rows = static_cast<int64_t>(row_tasks.size());
  // -1e9 rather than -inf: exp underflows to exactly 0 without inf - inf = NaN.
  Tensor mask = Tensor::full({rows, num_classes}, -1e9f);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c : row_tasks[r]) {
      check_arg(0 <= c && c < num_classes, "task_mask", [&] { return "class " + std::to_string(c) + " out of range"; });
      mask.f32()[r * num_classes + c] = 0.0f;
    }
  }
  return mask;
}

Tensor selected_cross_entropy(const Tensor& logits, const Tensor& labels,
                              const std::vector<std::vector<int64_t>>& row_tasks) {
  check_arg(static_cast<int64_t>(row_tasks.size()) == logits.size(0), "selected_cross_entropy",
            "one task per row needed");
  return cross_entropy(add(logits, task_mask(row_tasks, logits.size(1)).to(logits.device())), labels);
}

int64_t predict(const float* row, int64_t num_classes, const std::vector<int64_t>& task_classes) {
  if (task_classes.empty()) return std::max_element(row, row + num_classes) - row;
  int64_t best = task_classes[0];
  for (int64_t c : task_classes) {
    if (row[c] > row[best]) best = c;
  }
  return best;
}

void select_classifier_rows(TensorMap& params, const std::vector<int64_t>& task_classes) {
  // A few rows: selected on the host, the result on the parameters' device.
  const Device device = params.at("fc.weight").device();
  const Tensor w = params.at("fc.weight").to(Device::cpu()), b = params.at("fc.bias").to(Device::cpu());
  const int64_t k = static_cast<int64_t>(task_classes.size()), features = w.size(1);
  Tensor ws = Tensor::empty({k, features}), bs = Tensor::empty({k});
  for (int64_t i = 0; i < k; ++i) {
    const int64_t c = task_classes[i];
    check_arg(0 <= c && c < w.size(0), "select_classifier_rows",
              [&] { return "class " + std::to_string(c) + " out of range"; });
    std::memcpy(ws.f32() + i * features, w.f32() + c * features, features * sizeof(float));
    bs.f32()[i] = b.f32()[c];
  }
  params["fc.weight"] = ws.to(device);
  params["fc.bias"] = bs.to(device);
}

}  // namespace taper

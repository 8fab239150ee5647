#include "nn/metrics.h"

#include <algorithm>

namespace taper {

int64_t count_correct(const Tensor& logits, const Tensor& labels) {
  check_arg(logits.ndim() == 2 && labels.numel() == logits.size(0), "count_correct",
            [&] { return "logits " + logits.shape().str() + " vs labels " + labels.shape().str(); });
  const int64_t rows = logits.size(0), cols = logits.size(1);
  const Tensor host = logits.to(Device::cpu());
  const std::vector<int64_t> truth = labels.to_labels();
  int64_t hits = 0;
  for (int64_t i = 0; i < rows; ++i) {
    const float* row = host.f32() + i * cols;
    hits += std::max_element(row, row + cols) - row == truth[i];
  }
  return hits;
}

}  // namespace taper

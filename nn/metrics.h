// Classification metrics over logits.
#pragma once

#include "engine/tensor.h"

namespace taper {

// Rows of logits [N, C] whose arg-max equals the I64 label.
int64_t count_correct(const Tensor& logits, const Tensor& labels);

}  // namespace taper

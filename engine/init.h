// Weight initialisation with PyTorch's conventions.
#pragma once

#include "engine/rng.h"
#include "engine/tensor.h"

namespace taper {

enum class FanMode { FanIn, FanOut };

// fan_in = size(1) * receptive field, fan_out = size(0) * receptive field,
// where the receptive field is the product of the extents after the second.
int64_t fan(const Tensor& weight, FanMode mode);

// Normal(0, gain / sqrt(fan)) with gain sqrt(2) for ReLU: torch.nn.init.kaiming_normal_.
void kaiming_normal(Tensor& weight, Generator& gen, FanMode mode = FanMode::FanOut);

}  // namespace taper

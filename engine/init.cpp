#include "engine/init.h"

#include <cmath>

namespace taper {

int64_t fan(const Tensor& weight, FanMode mode) {
  check_arg(weight.ndim() >= 2, "fan",
            [&] { return "weight needs at least 2 dimensions, got " + weight.shape().str(); });
  int64_t receptive = 1;
  for (int i = 2; i < weight.ndim(); ++i) receptive *= weight.size(i);
  return (mode == FanMode::FanIn ? weight.size(1) : weight.size(0)) * receptive;
}

void kaiming_normal(Tensor& weight, Generator& gen, FanMode mode) {
  const float gain = std::sqrt(2.0f);
  gen.normal(weight, 0.0f, gain / std::sqrt(static_cast<float>(fan(weight, mode))));
}

}  // namespace taper

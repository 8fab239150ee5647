#include "taper/weight_average.h"

#include "engine/autograd.h"

namespace taper {

TrainState uniform_average(const Experiment& exp, const Bases& bases) {
  NoGradGuard no_grad;
  const int64_t q = bases.count();
  const std::vector<Tensor> uniform(exp.layout.num_blocks, Tensor::full({q}, 1.0f / static_cast<float>(q)));
  TrainState avg;
  for (const auto& [n, t] : mix_parameters(exp.arch, exp.layout, bases, uniform)) {
    avg.params[n] = t.detach().set_requires_grad(true);
  }
  avg.buffers = mix_buffers(exp.arch, exp.layout, bases, uniform);
  return avg;
}

}  // namespace taper

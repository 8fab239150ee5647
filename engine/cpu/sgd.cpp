#include "engine/cpu/cpu_backend.h"

namespace taper {

// torch.optim.SGD, element by element:
//   d = grad + wd * p
//   buf = d (first step) or momentum * buf + (1 - dampening) * d
//   d = nesterov ? d + momentum * buf : buf
//   p -= lr * d
void CpuBackend::sgd_step(Tensor& param, const Tensor& grad, Tensor& momentum_buf, bool first_step,
                          const SgdHyper& h) {
  float* p = param.f32();
  const float* g = grad.f32();
  float* buf = h.momentum != 0.0f ? momentum_buf.f32() : nullptr;
  const int64_t n = param.numel();
#pragma omp parallel for simd if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    float d = g[i] + h.weight_decay * p[i];
    if (buf) {
      buf[i] = first_step ? d : h.momentum * buf[i] + (1.0f - h.dampening) * d;
      d = h.nesterov ? d + h.momentum * buf[i] : buf[i];
    }
    p[i] -= h.lr * d;
  }
}

}  // namespace taper

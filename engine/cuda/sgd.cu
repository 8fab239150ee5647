// One SGD update; the CPU reference (torch.optim.SGD semantics) is
// engine/cpu/sgd.cpp.
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cuda_check.h"

namespace taper {

namespace {
__global__ void sgd_kernel(float* p, const float* g, float* buf, bool first, SgdHyper h, int64_t n) {
  TAPER_GRID_LOOP(i, n) {
    float d = g[i] + h.weight_decay * p[i];
    if (buf) {
      buf[i] = first ? d : h.momentum * buf[i] + (1.0f - h.dampening) * d;
      d = h.nesterov ? d + h.momentum * buf[i] : buf[i];
    }
    p[i] -= h.lr * d;
  }
}
}  // namespace

void CudaBackend::sgd_step(Tensor& param, const Tensor& grad, Tensor& momentum_buf, bool first_step,
                           const SgdHyper& h) {
  const int64_t n = param.numel();
  if (n == 0) return;
  float* buf = h.momentum != 0.0f ? cuda::f32_of(momentum_buf) : nullptr;
  sgd_kernel<<<cuda::grid_for(n), cuda::kThreads>>>(cuda::f32_of(param), cuda::f32_of(grad), buf, first_step, h, n);
  TAPER_CUDA_LAUNCHED();
}

}  // namespace taper

// Column gather (classifier selection) and its adjoint; the CPU reference is
// engine/cpu/gather.cpp. Indices were checked by the op.
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cuda_check.h"

namespace taper {

using cuda::f32_of;
using cuda::i64_of;

namespace {

__global__ void gather_kernel(const float* x, const int64_t* idx, float* y, int64_t rows, int64_t cols, int64_t k) {
  TAPER_GRID_LOOP(i, rows * k) y[i] = x[(i / k) * cols + idx[i % k]];
}

// Repeated indices add up, as the adjoint of a gather must.
__global__ void gather_backward_kernel(const float* gy, const int64_t* idx, float* gx, int64_t rows, int64_t cols,
                                       int64_t k) {
  TAPER_GRID_LOOP(i, rows * k) atomicAdd(gx + (i / k) * cols + idx[i % k], gy[i]);
}

}  // namespace

void CudaBackend::gather_columns(const Tensor& x, const Tensor& index, Tensor& y) {
  const int64_t rows = x.size(0), cols = x.size(1), k = index.numel();
  if (rows * k == 0) return;
  gather_kernel<<<cuda::grid_for(rows * k), cuda::kThreads>>>(f32_of(x), i64_of(index), f32_of(y), rows, cols, k);
  TAPER_CUDA_LAUNCHED();
}

void CudaBackend::gather_columns_backward(const Tensor& grad_y, const Tensor& index, Tensor& grad_x) {
  const int64_t rows = grad_x.size(0), cols = grad_x.size(1), k = index.numel();
  zero(grad_x);
  if (rows * k == 0) return;
  gather_backward_kernel<<<cuda::grid_for(rows * k), cuda::kThreads>>>(f32_of(grad_y), i64_of(index), f32_of(grad_x),
                                                                       rows, cols, k);
  TAPER_CUDA_LAUNCHED();
}

}  // namespace taper

#include "engine/cpu/cpu_backend.h"

namespace taper {

void CpuBackend::gather_columns(const Tensor& x, const Tensor& index, Tensor& y) {
  const int64_t rows = x.size(0), cols = x.size(1), k = index.numel();
  const int64_t* idx = index.i64();
  const float* px = x.f32();
  float* py = y.f32();
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < k; ++j) py[i * k + j] = px[i * cols + idx[j]];
  }
}

// Repeated indices add up, as the adjoint of a gather must.
void CpuBackend::gather_columns_backward(const Tensor& grad_y, const Tensor& index, Tensor& grad_x) {
  const int64_t rows = grad_x.size(0), cols = grad_x.size(1), k = index.numel();
  const int64_t* idx = index.i64();
  const float* pgy = grad_y.f32();
  float* pgx = grad_x.f32();
  fill(grad_x, 0.0f);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < k; ++j) pgx[i * cols + idx[j]] += pgy[i * k + j];
  }
}

}  // namespace taper

#include <cstring>

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

void CpuBackend::embedding(const Tensor& table, const Tensor& ids, Tensor& y) {
  const int64_t n = ids.numel(), dim = table.size(1);
  const int64_t* idx = ids.i64();
  const float* pt = table.f32();
  float* py = y.f32();
#pragma omp parallel for if (n * dim > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) std::memcpy(py + i * dim, pt + idx[i] * dim, dim * sizeof(float));
}

// One thread in id order: rows that repeat add up in a fixed order.
void CpuBackend::embedding_backward(const Tensor& grad_y, const Tensor& ids, Tensor& grad_table) {
  const int64_t n = ids.numel(), dim = grad_table.size(1);
  const int64_t* idx = ids.i64();
  const float* pgy = grad_y.f32();
  float* pgt = grad_table.f32();
  fill(grad_table, 0.0f);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < dim; ++j) pgt[idx[i] * dim + j] += pgy[i * dim + j];
  }
}

}  // namespace taper

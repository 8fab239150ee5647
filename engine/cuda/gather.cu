// Column gather (classifier selection), row gather (embeddings) and their
// adjoints; the CPU reference is engine/cpu/gather.cpp. Indices were checked
// by the op.
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

__global__ void embedding_kernel(const float* table, const int64_t* ids, float* y, int64_t n, int64_t dim) {
  TAPER_GRID_LOOP(i, n * dim) y[i] = table[ids[i / dim] * dim + i % dim];
}

// One thread per column walks the ids in order: rows that repeat add up in
// the CPU's order, with no atomics, so the result is deterministic (and
// equal to the CPU's). Parallel only over the columns: correctness first.
__global__ void embedding_backward_kernel(const float* gy, const int64_t* ids, float* grad_table, int64_t n,
                                          int64_t dim) {
  TAPER_GRID_LOOP(j, dim) {
    for (int64_t i = 0; i < n; ++i) grad_table[ids[i] * dim + j] += gy[i * dim + j];
  }
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

void CudaBackend::embedding(const Tensor& table, const Tensor& ids, Tensor& y) {
  const int64_t n = ids.numel(), dim = table.size(1);
  if (n * dim == 0) return;
  embedding_kernel<<<cuda::grid_for(n * dim), cuda::kThreads>>>(f32_of(table), i64_of(ids), f32_of(y), n, dim);
  TAPER_CUDA_LAUNCHED();
}

void CudaBackend::embedding_backward(const Tensor& grad_y, const Tensor& ids, Tensor& grad_table) {
  const int64_t n = ids.numel(), dim = grad_table.size(1);
  zero(grad_table);
  if (n * dim == 0) return;
  embedding_backward_kernel<<<cuda::grid_for(dim), cuda::kThreads>>>(f32_of(grad_y), i64_of(ids), f32_of(grad_table),
                                                                     n, dim);
  TAPER_CUDA_LAUNCHED();
}

}  // namespace taper

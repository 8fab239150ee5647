// Row-wise softmax, log-softmax, masked softmax and cross-entropy over
// [N, C], one block per row, with the row maximum subtracted; the CPU reference is
// engine/cpu/softmax.cpp. Labels were checked by the op.
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/reduce.cuh"

namespace taper {

using cuda::f32_of;
using cuda::i64_of;
using cuda::kThreads;

namespace {

// Writes softmax (or log-softmax) of row x into y; returns log-sum-exp to
// every thread.
__device__ double softmax_row(const float* x, float* y, int64_t cols, bool log) {
  float peak = -INFINITY;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) peak = fmaxf(peak, x[j]);
  peak = cuda::block_max(peak);
  double sum = 0.0;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) sum += exp(static_cast<double>(x[j] - peak));
  sum = cuda::block_sum(sum);
  const double lse = peak + ::log(sum);
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    y[j] = log ? static_cast<float>(x[j] - lse) : static_cast<float>(exp(x[j] - lse));
  }
  return lse;
}

__global__ void softmax_kernel(const float* x, float* y, int64_t cols, bool log) {
  const int64_t row = blockIdx.x;
  softmax_row(x + row * cols, y + row * cols, cols, log);
}

// softmax: dx = y * (dy - <dy, y>);  log-softmax: dx = dy - exp(y) * sum(dy).
__global__ void softmax_backward_kernel(const float* y, const float* gy, float* gx, int64_t cols, bool log) {
  const int64_t row = blockIdx.x;
  const float *yr = y + row * cols, *gr = gy + row * cols;
  float* out = gx + row * cols;
  double dot = 0.0;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) dot += log ? gr[j] : gr[j] * yr[j];
  dot = cuda::block_sum(dot);
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    out[j] = log ? static_cast<float>(gr[j] - exp(yr[j]) * dot) : static_cast<float>(yr[j] * (gr[j] - dot));
  }
}

// One block per row of x [B, R, C]; only the columns with keep[c] != 0 count.
// Single-precision exponentials with a double sum, as on the CPU.
__global__ void masked_softmax_kernel(const float* x, const float* mask, float* y, int64_t rows, int64_t cols) {
  const int64_t row = blockIdx.x;
  const float *xr = x + row * cols, *keep = mask + (row / rows) * cols;
  float* yr = y + row * cols;
  float peak = -INFINITY;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    if (keep[j] != 0.0f) peak = fmaxf(peak, xr[j]);
  }
  peak = cuda::block_max(peak);
  double sum = 0.0;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    yr[j] = keep[j] != 0.0f ? expf(xr[j] - peak) : 0.0f;
    sum += yr[j];
  }
  sum = cuda::block_sum(sum);
  const float inv = sum > 0.0 ? static_cast<float>(1.0 / sum) : 0.0f;  // no column kept: zeros
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) yr[j] *= inv;
}

// probs = softmax(logits); row_loss[i] = lse_i - logits[i, label_i].
__global__ void cross_entropy_rows_kernel(const float* logits, const int64_t* labels, float* probs, double* row_loss,
                                          int64_t cols) {
  const int64_t row = blockIdx.x;
  const double lse = softmax_row(logits + row * cols, probs + row * cols, cols, false);
  if (threadIdx.x == 0) row_loss[row] = lse - logits[row * cols + labels[row]];
}

// One block sums the row losses in a fixed order per thread: loss = mean.
__global__ void mean_kernel(const double* values, int64_t n, float* out) {
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += values[i];
  s = cuda::block_sum(s);
  if (threadIdx.x == 0) out[0] = static_cast<float>(s / n);
}

__global__ void cross_entropy_backward_kernel(const float* probs, const int64_t* labels, const float* grad_loss,
                                              float* grad, int64_t rows, int64_t cols) {
  const float k = grad_loss[0] / static_cast<float>(rows);
  TAPER_GRID_LOOP(i, rows * cols) {
    const int64_t r = i / cols, c = i % cols;
    grad[i] = k * (probs[i] - (c == labels[r] ? 1.0f : 0.0f));
  }
}

}  // namespace

void CudaBackend::softmax(const Tensor& x, Tensor& y, bool log) {
  const int64_t rows = x.size(0), cols = x.size(1);
  if (rows == 0) return;
  softmax_kernel<<<static_cast<unsigned>(rows), kThreads>>>(f32_of(x), f32_of(y), cols, log);
  TAPER_CUDA_LAUNCHED();
}

void CudaBackend::softmax_backward(const Tensor& y, const Tensor& grad_y, Tensor& grad_x, bool log) {
  const int64_t rows = y.size(0), cols = y.size(1);
  if (rows == 0) return;
  softmax_backward_kernel<<<static_cast<unsigned>(rows), kThreads>>>(f32_of(y), f32_of(grad_y), f32_of(grad_x), cols,
                                                                     log);
  TAPER_CUDA_LAUNCHED();
}

void CudaBackend::masked_softmax(const Tensor& x, const Tensor& mask, Tensor& y) {
  const int64_t batch = x.size(0), rows = x.size(1), cols = x.size(2);
  if (batch * rows == 0) return;
  masked_softmax_kernel<<<static_cast<unsigned>(batch * rows), kThreads>>>(f32_of(x), f32_of(mask), f32_of(y), rows,
                                                                          cols);
  TAPER_CUDA_LAUNCHED();
}

void CudaBackend::cross_entropy_forward(const Tensor& logits, const Tensor& labels, Tensor& probs, Tensor& loss) {
  const int64_t rows = logits.size(0), cols = logits.size(1);
  Scratch row_loss(allocator_, rows * sizeof(double));
  cross_entropy_rows_kernel<<<static_cast<unsigned>(rows), kThreads>>>(
      f32_of(logits), i64_of(labels), f32_of(probs), static_cast<double*>(row_loss.get()), cols);
  TAPER_CUDA_LAUNCHED();
  mean_kernel<<<1, kThreads>>>(static_cast<const double*>(row_loss.get()), rows, f32_of(loss));
  TAPER_CUDA_LAUNCHED();
}

void CudaBackend::cross_entropy_backward(const Tensor& probs, const Tensor& labels, const Tensor& grad_loss,
                                         Tensor& grad_logits) {
  const int64_t rows = probs.size(0), cols = probs.size(1);
  if (rows * cols == 0) return;
  cross_entropy_backward_kernel<<<cuda::grid_for(rows * cols), kThreads>>>(
      f32_of(probs), i64_of(labels), f32_of(grad_loss), f32_of(grad_logits), rows, cols);
  TAPER_CUDA_LAUNCHED();
}

}  // namespace taper

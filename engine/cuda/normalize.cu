// Row normalisations over [N, D], layer norm and L2, one block per row with
// the sums in double; the CPU reference is engine/cpu/normalize.cpp. The
// per-column parameter gradients are one thread per column summing its rows
// in row order (deterministic, as on the CPU).
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/reduce.cuh"

namespace taper {

using cuda::f32_of;
using cuda::kThreads;

namespace {

__global__ void layer_norm_forward_kernel(const float* x, const float* gamma, const float* beta, float* y,
                                          float* save_mean, float* save_invstd, int64_t cols, float eps) {
  const int64_t row = blockIdx.x;
  const float* xr = x + row * cols;
  double sum = 0.0;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) sum += xr[j];
  const double mean = cuda::block_sum(sum) / cols;
  double sq = 0.0;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) sq += (xr[j] - mean) * (xr[j] - mean);
  const double invstd = 1.0 / sqrt(cuda::block_sum(sq) / cols + eps);
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    y[row * cols + j] = static_cast<float>((xr[j] - mean) * invstd * gamma[j] + beta[j]);
  }
  if (threadIdx.x == 0) {
    save_mean[row] = static_cast<float>(mean);
    save_invstd[row] = static_cast<float>(invstd);
  }
}

// With xhat = (x - mean) * invstd and h = grad_y * gamma:
// grad_x = invstd * (h - mean(h) - xhat * mean(h * xhat)).
__global__ void layer_norm_backward_data_kernel(const float* x, const float* gy, const float* gamma,
                                                const float* mean, const float* invstd, float* gx, int64_t cols) {
  const int64_t row = blockIdx.x;
  const float *xr = x + row * cols, *gr = gy + row * cols;
  const double m = mean[row], is = invstd[row];
  double sum_h = 0.0, sum_hx = 0.0;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    const double h = double(gr[j]) * gamma[j];
    sum_h += h;
    sum_hx += h * (xr[j] - m) * is;
  }
  sum_h = cuda::block_sum(sum_h);
  sum_hx = cuda::block_sum(sum_hx);
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    const double h = double(gr[j]) * gamma[j], xhat = (xr[j] - m) * is;
    gx[row * cols + j] = static_cast<float>(is * (h - sum_h / cols - xhat * sum_hx / cols));
  }
}

// grad_gamma or grad_beta may be null (not wanted).
__global__ void layer_norm_backward_params_kernel(const float* x, const float* gy, const float* mean,
                                                  const float* invstd, float* grad_gamma, float* grad_beta,
                                                  int64_t rows, int64_t cols) {
  TAPER_GRID_LOOP(j, cols) {
    double gg = 0.0, gb = 0.0;
    for (int64_t i = 0; i < rows; ++i) {
      const double g = gy[i * cols + j];
      gg += g * (x[i * cols + j] - mean[i]) * invstd[i];
      gb += g;
    }
    if (grad_gamma) grad_gamma[j] = static_cast<float>(gg);
    if (grad_beta) grad_beta[j] = static_cast<float>(gb);
  }
}

__global__ void l2_normalize_kernel(const float* x, float* y, float* norms, int64_t cols, float eps) {
  const int64_t row = blockIdx.x;
  const float* xr = x + row * cols;
  double sq = 0.0;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) sq += double(xr[j]) * xr[j];
  const double norm = fmax(sqrt(cuda::block_sum(sq)), double(eps));
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) y[row * cols + j] = static_cast<float>(xr[j] / norm);
  if (threadIdx.x == 0) norms[row] = static_cast<float>(norm);
}

// y = x / n with n = ||x||: grad_x = (grad_y - y <grad_y, y>) / n. Where the
// norm was clamped to eps, n is a constant and grad_x = grad_y / eps.
__global__ void l2_normalize_backward_kernel(const float* y, const float* norms, const float* gy, float* gx,
                                             int64_t cols, float eps) {
  const int64_t row = blockIdx.x;
  const float *yr = y + row * cols, *gr = gy + row * cols;
  double dot = 0.0;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) dot += double(gr[j]) * yr[j];
  dot = cuda::block_sum(dot);
  const bool clamped = norms[row] <= eps;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    gx[row * cols + j] = static_cast<float>((gr[j] - (clamped ? 0.0 : yr[j] * dot)) / norms[row]);
  }
}

}  // namespace

void CudaBackend::layer_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& y,
                                     Tensor& save_mean, Tensor& save_invstd, float eps) {
  const int64_t rows = x.size(0), cols = x.size(1);
  if (rows == 0) return;
  layer_norm_forward_kernel<<<static_cast<unsigned>(rows), kThreads>>>(
      f32_of(x), f32_of(gamma), f32_of(beta), f32_of(y), f32_of(save_mean), f32_of(save_invstd), cols, eps);
  TAPER_CUDA_LAUNCHED();
}

void CudaBackend::layer_norm_backward(const Tensor& x, const Tensor& grad_y, const Tensor& gamma,
                                      const Tensor& save_mean, const Tensor& save_invstd, Tensor& grad_x,
                                      Tensor& grad_gamma, Tensor& grad_beta) {
  const int64_t rows = x.size(0), cols = x.size(1);
  if (grad_x.defined() && rows > 0) {
    layer_norm_backward_data_kernel<<<static_cast<unsigned>(rows), kThreads>>>(
        f32_of(x), f32_of(grad_y), f32_of(gamma), f32_of(save_mean), f32_of(save_invstd), f32_of(grad_x), cols);
    TAPER_CUDA_LAUNCHED();
  }
  float* gg = grad_gamma.defined() ? f32_of(grad_gamma) : nullptr;
  float* gb = grad_beta.defined() ? f32_of(grad_beta) : nullptr;
  if ((!gg && !gb) || cols == 0) return;
  layer_norm_backward_params_kernel<<<cuda::grid_for(cols), kThreads>>>(
      f32_of(x), f32_of(grad_y), f32_of(save_mean), f32_of(save_invstd), gg, gb, rows, cols);
  TAPER_CUDA_LAUNCHED();
}

void CudaBackend::l2_normalize(const Tensor& x, Tensor& y, Tensor& norms, float eps) {
  const int64_t rows = x.size(0), cols = x.size(1);
  if (rows == 0) return;
  l2_normalize_kernel<<<static_cast<unsigned>(rows), kThreads>>>(f32_of(x), f32_of(y), f32_of(norms), cols, eps);
  TAPER_CUDA_LAUNCHED();
}

void CudaBackend::l2_normalize_backward(const Tensor& y, const Tensor& norms, const Tensor& grad_y, Tensor& grad_x,
                                        float eps) {
  const int64_t rows = y.size(0), cols = y.size(1);
  if (rows == 0) return;
  l2_normalize_backward_kernel<<<static_cast<unsigned>(rows), kThreads>>>(f32_of(y), f32_of(norms), f32_of(grad_y),
                                                                          f32_of(grad_x), cols, eps);
  TAPER_CUDA_LAUNCHED();
}

}  // namespace taper

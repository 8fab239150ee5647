// Row normalisations over [N, D]: layer norm (transformers) and L2 (sentence
// embeddings). Each row is reduced by one thread in a fixed order; the
// per-column parameter gradients sum their rows in row order.
#include <algorithm>
#include <cmath>

#include "engine/cpu/cpu_backend.h"

namespace taper {

void CpuBackend::layer_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& y,
                                    Tensor& save_mean, Tensor& save_invstd, float eps) {
  const int64_t rows = x.size(0), cols = x.size(1);
  const float *px = x.f32(), *pg = gamma.f32(), *pb = beta.f32();
  float *py = y.f32(), *pm = save_mean.f32(), *pi = save_invstd.f32();
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
  for (int64_t i = 0; i < rows; ++i) {
    const float* xr = px + i * cols;
    double sum = 0.0;
    for (int64_t j = 0; j < cols; ++j) sum += xr[j];
    const double mean = sum / cols;
    double sq = 0.0;
    for (int64_t j = 0; j < cols; ++j) sq += (xr[j] - mean) * (xr[j] - mean);
    const double invstd = 1.0 / std::sqrt(sq / cols + eps);
    for (int64_t j = 0; j < cols; ++j) py[i * cols + j] = static_cast<float>((xr[j] - mean) * invstd * pg[j] + pb[j]);
    pm[i] = static_cast<float>(mean);
    pi[i] = static_cast<float>(invstd);
  }
}

// With xhat = (x - mean) * invstd and h = grad_y * gamma:
// grad_x = invstd * (h - mean(h) - xhat * mean(h * xhat)).
void CpuBackend::layer_norm_backward(const Tensor& x, const Tensor& grad_y, const Tensor& gamma,
                                     const Tensor& save_mean, const Tensor& save_invstd, Tensor& grad_x,
                                     Tensor& grad_gamma, Tensor& grad_beta) {
  const int64_t rows = x.size(0), cols = x.size(1);
  const float *px = x.f32(), *pgy = grad_y.f32(), *pg = gamma.f32(), *pm = save_mean.f32(), *pi = save_invstd.f32();
  if (grad_x.defined()) {
    float* pgx = grad_x.f32();
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
    for (int64_t i = 0; i < rows; ++i) {
      const float *xr = px + i * cols, *gr = pgy + i * cols;
      double sum_h = 0.0, sum_hx = 0.0;
      for (int64_t j = 0; j < cols; ++j) {
        const double h = double(gr[j]) * pg[j], xhat = (xr[j] - pm[i]) * double(pi[i]);
        sum_h += h;
        sum_hx += h * xhat;
      }
      for (int64_t j = 0; j < cols; ++j) {
        const double h = double(gr[j]) * pg[j], xhat = (xr[j] - pm[i]) * double(pi[i]);
        pgx[i * cols + j] = static_cast<float>(pi[i] * (h - sum_h / cols - xhat * sum_hx / cols));
      }
    }
  }
  float* pgg = grad_gamma.defined() ? grad_gamma.f32() : nullptr;
  float* pgb = grad_beta.defined() ? grad_beta.f32() : nullptr;
  if (!pgg && !pgb) return;
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
  for (int64_t j = 0; j < cols; ++j) {
    double gg = 0.0, gb = 0.0;
    for (int64_t i = 0; i < rows; ++i) {
      const double g = pgy[i * cols + j];
      gg += g * (px[i * cols + j] - pm[i]) * pi[i];
      gb += g;
    }
    if (pgg) pgg[j] = static_cast<float>(gg);
    if (pgb) pgb[j] = static_cast<float>(gb);
  }
}

void CpuBackend::l2_normalize(const Tensor& x, Tensor& y, Tensor& norms, float eps) {
  const int64_t rows = x.size(0), cols = x.size(1);
  const float* px = x.f32();
  float *py = y.f32(), *pn = norms.f32();
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
  for (int64_t i = 0; i < rows; ++i) {
    double sq = 0.0;
    for (int64_t j = 0; j < cols; ++j) sq += double(px[i * cols + j]) * px[i * cols + j];
    const double norm = std::max(std::sqrt(sq), double(eps));
    for (int64_t j = 0; j < cols; ++j) py[i * cols + j] = static_cast<float>(px[i * cols + j] / norm);
    pn[i] = static_cast<float>(norm);
  }
}

// y = x / n with n = ||x||: grad_x = (grad_y - y <grad_y, y>) / n. Where the
// norm was clamped to eps, n is a constant and grad_x = grad_y / eps.
void CpuBackend::l2_normalize_backward(const Tensor& y, const Tensor& norms, const Tensor& grad_y, Tensor& grad_x,
                                       float eps) {
  const int64_t rows = y.size(0), cols = y.size(1);
  const float *py = y.f32(), *pn = norms.f32(), *pg = grad_y.f32();
  float* pgx = grad_x.f32();
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
  for (int64_t i = 0; i < rows; ++i) {
    const float *yr = py + i * cols, *gr = pg + i * cols;
    double dot = 0.0;
    for (int64_t j = 0; j < cols; ++j) dot += double(gr[j]) * yr[j];
    const bool clamped = pn[i] <= eps;
    for (int64_t j = 0; j < cols; ++j) {
      pgx[i * cols + j] = static_cast<float>((gr[j] - (clamped ? 0.0 : yr[j] * dot)) / pn[i]);
    }
  }
}

}  // namespace taper

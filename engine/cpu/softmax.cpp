// Row-wise softmax, log-softmax and cross-entropy over [N, C], computed with
// the max subtracted so that large logits cannot overflow.
#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/cpu/cpu_backend.h"

namespace taper {

namespace {
// Writes softmax (or log-softmax) of one row; returns log-sum-exp.
double softmax_row(const float* x, float* y, int64_t cols, bool log) {
  float peak = x[0];
  for (int64_t j = 1; j < cols; ++j) peak = std::max(peak, x[j]);
  double sum = 0.0;
  for (int64_t j = 0; j < cols; ++j) sum += std::exp(static_cast<double>(x[j] - peak));
  const double lse = peak + std::log(sum);
  for (int64_t j = 0; j < cols; ++j) {
    y[j] = log ? static_cast<float>(x[j] - lse) : static_cast<float>(std::exp(x[j] - lse));
  }
  return lse;
}
}  // namespace

void CpuBackend::softmax(const Tensor& x, Tensor& y, bool log) {
  const int64_t rows = x.size(0), cols = x.size(1);
  const float* px = x.f32();
  float* py = y.f32();
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
  for (int64_t i = 0; i < rows; ++i) softmax_row(px + i * cols, py + i * cols, cols, log);
}

// softmax: dx = y * (dy - <dy, y>);  log-softmax: dx = dy - exp(y) * sum(dy).
void CpuBackend::softmax_backward(const Tensor& y, const Tensor& grad_y, Tensor& grad_x, bool log) {
  const int64_t rows = y.size(0), cols = y.size(1);
  const float *py = y.f32(), *pg = grad_y.f32();
  float* pgx = grad_x.f32();
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
  for (int64_t i = 0; i < rows; ++i) {
    const float *yr = py + i * cols, *gr = pg + i * cols;
    float* out = pgx + i * cols;
    double dot = 0.0;
    for (int64_t j = 0; j < cols; ++j) dot += log ? gr[j] : gr[j] * yr[j];
    for (int64_t j = 0; j < cols; ++j) {
      out[j] = log ? static_cast<float>(gr[j] - std::exp(yr[j]) * dot) : static_cast<float>(yr[j] * (gr[j] - dot));
    }
  }
}

void CpuBackend::masked_softmax(const Tensor& x, const Tensor& mask, Tensor& y) {
  const int64_t batch = x.size(0), rows = x.size(1), cols = x.size(2);
  const float *px = x.f32(), *pm = mask.f32();
  float* py = y.f32();
#pragma omp parallel for schedule(static) if (batch * rows * cols > kParallelGrain)
  for (int64_t r = 0; r < batch * rows; ++r) {
    const float *xr = px + r * cols, *keep = pm + (r / rows) * cols;
    float* yr = py + r * cols;
    float peak = -INFINITY;
    for (int64_t j = 0; j < cols; ++j) {
      if (keep[j] != 0.0f) peak = std::max(peak, xr[j]);
    }
    // Single-precision exponentials (the sum stays double): attention runs
    // this over every (head, query, key) triple.
    double sum = 0.0;
    for (int64_t j = 0; j < cols; ++j) {
      yr[j] = keep[j] != 0.0f ? std::exp(xr[j] - peak) : 0.0f;
      sum += yr[j];
    }
    const float inv = sum > 0.0 ? static_cast<float>(1.0 / sum) : 0.0f;  // no column kept: zeros
    for (int64_t j = 0; j < cols; ++j) yr[j] *= inv;
  }
}

void CpuBackend::cross_entropy_forward(const Tensor& logits, const Tensor& labels, Tensor& probs, Tensor& loss) {
  const int64_t rows = logits.size(0), cols = logits.size(1);
  const float* px = logits.f32();
  const int64_t* pl = labels.i64();
  float* pp = probs.f32();
  // Row losses are summed by one thread in row order: an OpenMP reduction
  // would add per-thread partial sums, whose grouping follows the thread count.
  std::vector<double> row_loss(static_cast<size_t>(rows));
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
  for (int64_t i = 0; i < rows; ++i) {
    const double lse = softmax_row(px + i * cols, pp + i * cols, cols, false);
    row_loss[i] = lse - px[i * cols + pl[i]];
  }
  double total = 0.0;
  for (const double l : row_loss) total += l;
  loss.f32()[0] = static_cast<float>(total / rows);
}

void CpuBackend::cross_entropy_backward(const Tensor& probs, const Tensor& labels, const Tensor& grad_loss,
                                        Tensor& grad_logits) {
  const int64_t rows = probs.size(0), cols = probs.size(1);
  const float* pp = probs.f32();
  const int64_t* pl = labels.i64();
  float* pg = grad_logits.f32();
  const float k = grad_loss.f32()[0] / static_cast<float>(rows);
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) pg[i * cols + j] = k * (pp[i * cols + j] - (j == pl[i] ? 1.0f : 0.0f));
  }
}

}  // namespace taper

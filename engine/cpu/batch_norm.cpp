// Batch norm over x viewed as [N, C, S]. Each channel is reduced by one
// thread in a fixed order, so results do not depend on the thread count:
// each row of S values in eight float lanes (which the compiler vectorises;
// one double accumulator is a chain of dependent adds, 4x slower under
// perf), the rows' sums in double.
// With relu the forward clamps each row of y while it is in L1 and the
// backward masks each row of grad_y into an L1 buffer where the forward's
// affine value of x (recomputed, the same arithmetic) was not positive: each
// value is the one the separate relu and relu_backward ops give, without
// their passes over the maps in memory, and without reading y. (Masking by
// y read a third stream twice; at batch 128 a 32x32 channel's x, grad_y and
// y, 1.5 MB, do not stay in L2 between the backward's two passes.)
#include <cmath>
#include <vector>

#include "engine/cpu/cpu_backend.h"

namespace taper {

namespace {
struct Layout {
  int64_t n, c, s;
};
Layout layout(const Tensor& x) { return {x.size(0), x.size(1), x.ndim() == 4 ? x.size(2) * x.size(3) : 1}; }

// sum over k < s of f(k), in eight float lanes, the lanes added in order.
template <class F>
double lane_sum(int64_t s, F&& f) {
  constexpr int kLanes = 8;
  float lane[kLanes] = {};
  int64_t k = 0;
  for (; k + kLanes <= s; k += kLanes) {
    for (int j = 0; j < kLanes; ++j) lane[j] += f(k + j);
  }
  double total = 0.0;
  for (; k < s; ++k) total += f(k);
  for (float v : lane) total += v;
  return total;
}

// A channel's affine map, y = x * a + shift: training's from the batch
// statistics, evaluation's from the running ones. The backward's ReLU mask
// recomputes it, so both passes take it from here.
struct Affine {
  float a, shift;
};
Affine train_affine(float gamma, float beta, float mean, float invstd) {
  const float a = gamma * invstd;
  return {a, beta - mean * a};
}
Affine eval_affine(float gamma, float beta, float running_mean, float running_var, float eps) {
  const float a = gamma / std::sqrt(running_var + eps);
  return {a, beta - running_mean * a};
}

// q = p * a + shift over s values, then relu when asked: a second pass over
// the row while it is in L1, so that the arithmetic is the same code with and
// without the ReLU (bit for bit the unfused ops' values whatever the compiler
// contracts into FMAs; a ReLU inside the loop changed its contractions at -O1).
void affine_row(const float* p, float* q, int64_t s, float a, float shift, bool relu) {
  for (int64_t k = 0; k < s; ++k) q[k] = p[k] * a + shift;
  if (relu) {
    for (int64_t k = 0; k < s; ++k) q[k] = q[k] > 0.0f ? q[k] : 0.0f;
  }
}
}  // namespace

void CpuBackend::batch_norm_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& y,
                                  Tensor& save_mean, Tensor& save_invstd, Tensor& running_mean,
                                  Tensor& running_var, float momentum, float eps, bool relu) {
  const auto [n, c, s] = layout(x);
  const int64_t count = n * s;
  const float *px = x.f32(), *pg = gamma.f32(), *pb = beta.f32();
  float *py = y.f32(), *pm = save_mean.f32(), *pi = save_invstd.f32();
  float *rm = running_mean.f32(), *rv = running_var.f32();
#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < c; ++ch) {
    double sum = 0.0;
    for (int64_t b = 0; b < n; ++b) {
      const float* p = px + (b * c + ch) * s;
      sum += lane_sum(s, [p](int64_t k) { return p[k]; });
    }
    const double mean = sum / count;
    const float fmean = static_cast<float>(mean);
    double sq = 0.0;
    for (int64_t b = 0; b < n; ++b) {
      const float* p = px + (b * c + ch) * s;
      sq += lane_sum(s, [p, fmean](int64_t k) { return (p[k] - fmean) * (p[k] - fmean); });
    }
    const double var = sq / count;
    const float invstd = static_cast<float>(1.0 / std::sqrt(var + eps));
    pm[ch] = static_cast<float>(mean);
    pi[ch] = invstd;
    const Affine f = train_affine(pg[ch], pb[ch], pm[ch], invstd);
    for (int64_t b = 0; b < n; ++b) affine_row(px + (b * c + ch) * s, py + (b * c + ch) * s, s, f.a, f.shift, relu);
    const double unbiased = count > 1 ? var * count / (count - 1) : var;
    rm[ch] = static_cast<float>((1.0 - momentum) * rm[ch] + momentum * mean);
    rv[ch] = static_cast<float>((1.0 - momentum) * rv[ch] + momentum * unbiased);
  }
}

void CpuBackend::batch_norm_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& y,
                                 const Tensor& running_mean, const Tensor& running_var, float eps, bool relu) {
  const auto [n, c, s] = layout(x);
  const float *px = x.f32(), *pg = gamma.f32(), *pb = beta.f32();
  const float *rm = running_mean.f32(), *rv = running_var.f32();
  float* py = y.f32();
#pragma omp parallel for collapse(2) schedule(static) if (n * c * s > kParallelGrain)
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t ch = 0; ch < c; ++ch) {
      const Affine f = eval_affine(pg[ch], pb[ch], rm[ch], rv[ch], eps);
      affine_row(px + (b * c + ch) * s, py + (b * c + ch) * s, s, f.a, f.shift, relu);
    }
  }
}

// Row `row` of the gradient reaching batch norm's output: grad_y's, or with
// a fused ReLU (relu: the forward's affine map), zero where its output was 0
// (relu_backward's values): where x * a + shift, affine_row's value, is not
// positive. Written to `buffer` (one row, in L1). Both cases then run the
// same arithmetic code, as in affine_row.
static const float* grad_row(const float* grad, const float* x, const Affine* relu, int64_t row, int64_t s,
                             float* buffer) {
  if (!relu) return grad + row;
  const float a = relu->a, shift = relu->shift;
  for (int64_t k = 0; k < s; ++k) buffer[k] = x[row + k] * a + shift > 0.0f ? grad[row + k] : 0.0f;
  return buffer;
}

// With xhat = (x - mean) * invstd and M = N*S:
//   dbeta = sum dy, dgamma = sum dy * xhat,
//   training:   dx = gamma * invstd / M * (M * dy - dbeta - xhat * dgamma)
//   evaluation: dx = gamma * invstd * dy (the statistics are constants).
// relu: the forward's affine map when a ReLU was fused, else null.
static void backward_channel(const float* px, const float* pgy, const Affine* relu, float* pgx, Layout l, int64_t ch,
                             float gamma, float mean, float invstd, bool batch_stats, float* dgamma_out,
                             float* dbeta_out) {
  const auto [n, c, s] = l;
  std::vector<float> buffer(relu ? s : 0);
  double dbeta = 0.0, dgamma = 0.0;
  for (int64_t b = 0; b < n; ++b) {
    const int64_t row = (b * c + ch) * s;
    const float *p = px + row, *g = grad_row(pgy, px, relu, row, s, buffer.data());
    dbeta += lane_sum(s, [g](int64_t k) { return g[k]; });
    dgamma += lane_sum(s, [=](int64_t k) { return g[k] * (p[k] - mean) * invstd; });
  }
  *dbeta_out = static_cast<float>(dbeta);
  *dgamma_out = static_cast<float>(dgamma);
  const double count = static_cast<double>(n * s);
  const float a = gamma * invstd;
  const float mb = batch_stats ? static_cast<float>(dbeta / count) : 0.0f;
  const float mg = batch_stats ? static_cast<float>(dgamma / count) : 0.0f;
  for (int64_t b = 0; b < n; ++b) {
    const int64_t row = (b * c + ch) * s;
    const float *p = px + row, *g = grad_row(pgy, px, relu, row, s, buffer.data());
    float* q = pgx + row;
    for (int64_t k = 0; k < s; ++k) q[k] = a * (g[k] - mb - (p[k] - mean) * invstd * mg);
  }
}

void CpuBackend::batch_norm_backward(const Tensor& x, const Tensor& grad_y, const Tensor& relu_out,
                                     const Tensor& gamma, const Tensor& beta, const Tensor& save_mean,
                                     const Tensor& save_invstd, Tensor& grad_x, Tensor& grad_gamma,
                                     Tensor& grad_beta) {
  const Layout l = layout(x);
  const float *pg = gamma.f32(), *pb = beta.f32(), *pm = save_mean.f32(), *pi = save_invstd.f32();
#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < l.c; ++ch) {
    const Affine f = train_affine(pg[ch], pb[ch], pm[ch], pi[ch]);
    backward_channel(x.f32(), grad_y.f32(), relu_out.defined() ? &f : nullptr, grad_x.f32(), l, ch, pg[ch], pm[ch],
                     pi[ch], true, grad_gamma.f32() + ch, grad_beta.f32() + ch);
  }
}

void CpuBackend::batch_norm_eval_backward(const Tensor& x, const Tensor& grad_y, const Tensor& relu_out,
                                          const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                                          const Tensor& running_var, float eps, Tensor& grad_x, Tensor& grad_gamma,
                                          Tensor& grad_beta) {
  const Layout l = layout(x);
  const float *pg = gamma.f32(), *pb = beta.f32(), *rm = running_mean.f32(), *rv = running_var.f32();
#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < l.c; ++ch) {
    const float invstd = 1.0f / std::sqrt(rv[ch] + eps);
    const Affine f = eval_affine(pg[ch], pb[ch], rm[ch], rv[ch], eps);
    backward_channel(x.f32(), grad_y.f32(), relu_out.defined() ? &f : nullptr, grad_x.f32(), l, ch, pg[ch], rm[ch],
                     invstd, false, grad_gamma.f32() + ch, grad_beta.f32() + ch);
  }
}

}  // namespace taper

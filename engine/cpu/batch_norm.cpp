// Batch norm over x viewed as [N, C, S]. Each channel is reduced by one
// thread in a fixed order, so results do not depend on the thread count:
// each row of S values in eight float lanes (which the compiler vectorises;
// one double accumulator is a chain of dependent adds, 4x slower under
// perf), the rows' sums in double.
// With relu the forward writes relu(y) in the same pass and the backward
// masks grad_y by that output as it reads it: each value is the one the
// separate relu and relu_backward passes give, without their passes over
// the maps (a fifth of batch norm and ReLU's memory traffic in a ResNet).
#include <cmath>

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

// q = p * a + shift over s values, then relu when asked.
void affine_row(const float* p, float* q, int64_t s, float a, float shift, bool relu) {
  if (relu) {
    for (int64_t k = 0; k < s; ++k) {
      const float v = p[k] * a + shift;
      q[k] = v > 0.0f ? v : 0.0f;
    }
  } else {
    for (int64_t k = 0; k < s; ++k) q[k] = p[k] * a + shift;
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
    const float a = pg[ch] * invstd, shift = pb[ch] - static_cast<float>(mean) * a;
    for (int64_t b = 0; b < n; ++b) affine_row(px + (b * c + ch) * s, py + (b * c + ch) * s, s, a, shift, relu);
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
      const float a = pg[ch] / std::sqrt(rv[ch] + eps), shift = pb[ch] - rm[ch] * a;
      affine_row(px + (b * c + ch) * s, py + (b * c + ch) * s, s, a, shift, relu);
    }
  }
}

// With xhat = (x - mean) * invstd and M = N*S:
//   dbeta = sum dy, dgamma = sum dy * xhat,
//   training:   dx = gamma * invstd / M * (M * dy - dbeta - xhat * dgamma)
//   evaluation: dx = gamma * invstd * dy (the statistics are constants).
// The gradient reaching batch norm's output: grad_y, or where a fused ReLU
// was 0, zero (relu_backward's values).
struct GradIn {
  const float *grad, *relu_out;  // relu_out null: no ReLU
  template <bool Masked>
  float at(int64_t i) const {
    if constexpr (Masked) return relu_out[i] > 0.0f ? grad[i] : 0.0f;
    return grad[i];
  }
};

template <bool Masked>
static void batch_norm_backward_channel(const float* px, GradIn gy, float* pgx, Layout l, int64_t ch, float gamma,
                                        float mean, float invstd, bool batch_stats, float* dgamma_out,
                                        float* dbeta_out) {
  const auto [n, c, s] = l;
  double dbeta = 0.0, dgamma = 0.0;
  for (int64_t b = 0; b < n; ++b) {
    const int64_t row = (b * c + ch) * s;
    const float* p = px + row;
    dbeta += lane_sum(s, [&](int64_t k) { return gy.at<Masked>(row + k); });
    dgamma += lane_sum(s, [&](int64_t k) { return gy.at<Masked>(row + k) * (p[k] - mean) * invstd; });
  }
  *dbeta_out = static_cast<float>(dbeta);
  *dgamma_out = static_cast<float>(dgamma);
  const double count = static_cast<double>(n * s);
  const float a = gamma * invstd;
  const float mb = batch_stats ? static_cast<float>(dbeta / count) : 0.0f;
  const float mg = batch_stats ? static_cast<float>(dgamma / count) : 0.0f;
  for (int64_t b = 0; b < n; ++b) {
    const int64_t row = (b * c + ch) * s;
    const float* p = px + row;
    float* q = pgx + row;
    for (int64_t k = 0; k < s; ++k) q[k] = a * (gy.at<Masked>(row + k) - mb - (p[k] - mean) * invstd * mg);
  }
}

// One channel's backward, masked by relu_out when it is defined.
static void backward_channel(const Tensor& x, const Tensor& grad_y, const Tensor& relu_out, Tensor& grad_x, Layout l,
                             int64_t ch, float gamma, float mean, float invstd, bool batch_stats, float* dgamma,
                             float* dbeta) {
  const GradIn gy{grad_y.f32(), relu_out.defined() ? relu_out.f32() : nullptr};
  if (gy.relu_out) {
    batch_norm_backward_channel<true>(x.f32(), gy, grad_x.f32(), l, ch, gamma, mean, invstd, batch_stats, dgamma,
                                      dbeta);
  } else {
    batch_norm_backward_channel<false>(x.f32(), gy, grad_x.f32(), l, ch, gamma, mean, invstd, batch_stats, dgamma,
                                       dbeta);
  }
}

void CpuBackend::batch_norm_backward(const Tensor& x, const Tensor& grad_y, const Tensor& relu_out,
                                     const Tensor& gamma, const Tensor& save_mean, const Tensor& save_invstd,
                                     Tensor& grad_x, Tensor& grad_gamma, Tensor& grad_beta) {
  const Layout l = layout(x);
  const float *pg = gamma.f32(), *pm = save_mean.f32(), *pi = save_invstd.f32();
#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < l.c; ++ch) {
    backward_channel(x, grad_y, relu_out, grad_x, l, ch, pg[ch], pm[ch], pi[ch], true, grad_gamma.f32() + ch,
                     grad_beta.f32() + ch);
  }
}

void CpuBackend::batch_norm_eval_backward(const Tensor& x, const Tensor& grad_y, const Tensor& relu_out,
                                          const Tensor& gamma, const Tensor& running_mean,
                                          const Tensor& running_var, float eps, Tensor& grad_x, Tensor& grad_gamma,
                                          Tensor& grad_beta) {
  const Layout l = layout(x);
  const float *pg = gamma.f32(), *rm = running_mean.f32(), *rv = running_var.f32();
#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < l.c; ++ch) {
    const float invstd = 1.0f / std::sqrt(rv[ch] + eps);
    backward_channel(x, grad_y, relu_out, grad_x, l, ch, pg[ch], rm[ch], invstd, false, grad_gamma.f32() + ch,
                     grad_beta.f32() + ch);
  }
}

}  // namespace taper

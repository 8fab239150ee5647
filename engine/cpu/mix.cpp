// Basis mixing, equation (1): out = sum_q alpha[q] * V_q. Memory-bound, so
// it streams every basis once in cache-sized blocks.
#include <algorithm>
#include <vector>

#include "engine/cpu/cpu_backend.h"

namespace taper {

namespace {
constexpr int64_t kBlock = 4096;  // floats per block: 16 KB a basis, fits L1/L2

// g . v over [start, end) in eight double lanes, added in order at the end.
// One accumulator was a chain of dependent adds: 4% of a stage-3 step (perf),
// where mixing's backward runs once per task group and layer.
double dot(const float* g, const float* v, int64_t start, int64_t end) {
  constexpr int kLanes = 8;
  double lane[kLanes] = {};
  int64_t i = start;
  for (; i + kLanes <= end; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) lane[j] += static_cast<double>(g[i + j]) * v[i + j];
  }
  double s = 0.0;
  for (; i < end; ++i) s += static_cast<double>(g[i]) * v[i];
  for (double l : lane) s += l;
  return s;
}
}  // namespace

void CpuBackend::mix(const Tensor& alpha, const std::vector<Tensor>& bases, Tensor& out) {
  const float* a = alpha.f32();
  const int64_t n = out.numel(), q_count = static_cast<int64_t>(bases.size());
  float* o = out.f32();
#pragma omp parallel for schedule(static) if (n * q_count > kParallelGrain)
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t end = std::min(n, start + kBlock);
    const float* v0 = bases[0].f32();
    for (int64_t i = start; i < end; ++i) o[i] = a[0] * v0[i];
    for (int64_t q = 1; q < q_count; ++q) {
      const float* v = bases[q].f32();
      const float aq = a[q];
      for (int64_t i = start; i < end; ++i) o[i] += aq * v[i];
    }
  }
}

void CpuBackend::mix_backward(const Tensor& alpha, const std::vector<Tensor>& bases, const Tensor& grad_out,
                              Tensor& grad_alpha, std::vector<Tensor>& grad_bases) {
  const float* a = alpha.f32();
  const float* g = grad_out.f32();
  const int64_t n = grad_out.numel(), q_count = static_cast<int64_t>(bases.size());
  const int64_t blocks = ceil_div(n, kBlock);
  // Per-block partial dot products, summed in block order afterwards: the
  // same result for any thread count.
  std::vector<double> partial(blocks * q_count, 0.0);
#pragma omp parallel for schedule(static) if (n * q_count > kParallelGrain)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t start = b * kBlock, end = std::min(n, start + kBlock);
    for (int64_t q = 0; q < q_count; ++q) {
      partial[b * q_count + q] = dot(g, bases[q].f32(), start, end);
      if (grad_bases[q].defined()) {
        float* gv = grad_bases[q].f32();
        for (int64_t i = start; i < end; ++i) gv[i] = a[q] * g[i];
      }
    }
  }
  float* ga = grad_alpha.f32();
  for (int64_t q = 0; q < q_count; ++q) {
    double s = 0.0;
    for (int64_t b = 0; b < blocks; ++b) s += partial[b * q_count + q];
    ga[q] = static_cast<float>(s);
  }
}

// Block by block: each basis block is read once, the G gradient blocks stay
// in L2, each basis gradient block is read and written once (G separate
// mix_backward calls wrote Q gradients a group for autograd to add up).
void CpuBackend::mix_backward_groups(const std::vector<Tensor>& alphas, const std::vector<Tensor>& bases,
                                     const std::vector<Tensor>& grads, std::vector<Tensor>& grad_alphas,
                                     std::vector<Tensor>& grad_bases) {
  const int64_t n = bases[0].numel(), q_count = static_cast<int64_t>(bases.size()),
                g_count = static_cast<int64_t>(grads.size());
  const int64_t blocks = ceil_div(n, kBlock);
  std::vector<double> partial(blocks * g_count * q_count, 0.0);  // summed in block order, as in mix_backward
#pragma omp parallel for schedule(static) if (n * q_count * g_count > kParallelGrain)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t start = b * kBlock, end = std::min(n, start + kBlock);
    for (int64_t q = 0; q < q_count; ++q) {
      float* gv = grad_bases[q].defined() ? grad_bases[q].f32() : nullptr;
      for (int64_t g = 0; g < g_count; ++g) {
        const float* gr = grads[g].f32();
        partial[(b * g_count + g) * q_count + q] = dot(gr, bases[q].f32(), start, end);
        if (!gv) continue;
        const float a = alphas[g].f32()[q];
        for (int64_t i = start; i < end; ++i) gv[i] += a * gr[i];
      }
    }
  }
  for (int64_t g = 0; g < g_count; ++g) {
    float* ga = grad_alphas[g].f32();
    for (int64_t q = 0; q < q_count; ++q) {
      double s = 0.0;
      for (int64_t b = 0; b < blocks; ++b) s += partial[(b * g_count + g) * q_count + q];
      ga[q] = static_cast<float>(s);
    }
  }
}

}  // namespace taper

// Basis mixing, equation (1): out = sum_q alpha[q] * V_q, with alpha on the
// device; the CPU reference is engine/cpu/mix.cpp. The bases' (or task
// groups') pointers travel as a kernel argument, kBasesPerLaunch at a time.
#include <algorithm>

#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/reduce.cuh"

namespace taper {

using cuda::f32_of;

namespace {

constexpr int kBasesPerLaunch = 32;

struct BasisPointers {
  const float* p[kBasesPerLaunch];
};

// out (+)= sum over bases [first, first + count) of alpha[q] * V_q.
__global__ void mix_kernel(const float* alpha, BasisPointers bases, int first, int count, bool accumulate,
                           float* out, int64_t n) {
  TAPER_GRID_LOOP(i, n) {
    float s = accumulate ? out[i] : 0.0f;
    for (int q = 0; q < count; ++q) s += alpha[first + q] * bases.p[q][i];
    out[i] = s;
  }
}

// partial[block] = sum of g * v over the block's grid-stride share.
__global__ void dot_partial_kernel(const float* g, const float* v, int64_t n, double* partial) {
  double s = 0.0;
  TAPER_GRID_LOOP(i, n) s += static_cast<double>(g[i]) * v[i];
  s = cuda::block_sum(s);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

// out[0] = sum of partial[0..count) in order (one block).
__global__ void dot_finish_kernel(const double* partial, int count, float* out) {
  double s = 0.0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) s += partial[i];
  s = cuda::block_sum(s);
  if (threadIdx.x == 0) out[0] = static_cast<float>(s);
}

__global__ void scale_by_kernel(const float* g, const float* alpha_q, float* out, int64_t n) {
  const float a = *alpha_q;
  TAPER_GRID_LOOP(i, n) out[i] = a * g[i];
}

// grad_basis += sum over g < count, in order, of alphas[g][q] * grads[g].
__global__ void add_groups_kernel(BasisPointers alphas, BasisPointers grads, int count, int q, float* grad_basis,
                                  int64_t n) {
  TAPER_GRID_LOOP(i, n) {
    float s = grad_basis[i];
    for (int g = 0; g < count; ++g) s += alphas.p[g][q] * grads.p[g][i];
    grad_basis[i] = s;
  }
}

// A fixed grid for the dot products, so that their partial sums (and the
// result) do not depend on the device's size.
unsigned dot_blocks(int64_t n) { return std::min<unsigned>(cuda::grid_for(n), 1024); }

// out[0] = <g, v>, through `blocks` partial sums in `partial`.
void dot(const Tensor& g, const Tensor& v, unsigned blocks, double* partial, float* out) {
  dot_partial_kernel<<<blocks, cuda::kThreads>>>(f32_of(g), f32_of(v), g.numel(), partial);
  TAPER_CUDA_LAUNCHED();
  dot_finish_kernel<<<1, cuda::kThreads>>>(partial, static_cast<int>(blocks), out);
  TAPER_CUDA_LAUNCHED();
}

}  // namespace

void CudaBackend::mix(const Tensor& alpha, const std::vector<Tensor>& bases, Tensor& out) {
  const int64_t n = out.numel();
  if (n == 0) return;
  const int q_count = static_cast<int>(bases.size());
  for (int first = 0; first < q_count; first += kBasesPerLaunch) {
    BasisPointers ptrs{};
    const int count = std::min(kBasesPerLaunch, q_count - first);
    for (int q = 0; q < count; ++q) ptrs.p[q] = f32_of(bases[first + q]);
    mix_kernel<<<cuda::grid_for(n), cuda::kThreads>>>(f32_of(alpha), ptrs, first, count, first > 0, f32_of(out), n);
    TAPER_CUDA_LAUNCHED();
  }
}

void CudaBackend::mix_backward(const Tensor& alpha, const std::vector<Tensor>& bases, const Tensor& grad_out,
                               Tensor& grad_alpha, std::vector<Tensor>& grad_bases) {
  const int64_t n = grad_out.numel();
  if (n == 0) {
    zero(grad_alpha);
    return;
  }
  const unsigned blocks = dot_blocks(n);
  Scratch partial(allocator_, blocks * sizeof(double));
  for (size_t q = 0; q < bases.size(); ++q) {
    dot(grad_out, bases[q], blocks, static_cast<double*>(partial.get()), f32_of(grad_alpha) + q);
    if (grad_bases[q].defined()) {
      scale_by_kernel<<<cuda::grid_for(n), cuda::kThreads>>>(f32_of(grad_out), f32_of(alpha) + q,
                                                             f32_of(grad_bases[q]), n);
      TAPER_CUDA_LAUNCHED();
    }
  }
}

void CudaBackend::mix_backward_groups(const std::vector<Tensor>& alphas, const std::vector<Tensor>& bases,
                                      const std::vector<Tensor>& grads, std::vector<Tensor>& grad_alphas,
                                      std::vector<Tensor>& grad_bases) {
  const int64_t n = bases[0].numel();
  if (n == 0) {
    for (Tensor& ga : grad_alphas) zero(ga);
    return;
  }
  const unsigned blocks = dot_blocks(n);
  Scratch partial(allocator_, blocks * sizeof(double));
  const int g_count = static_cast<int>(grads.size());
  for (size_t q = 0; q < bases.size(); ++q) {
    for (int g = 0; g < g_count; ++g)
      dot(grads[g], bases[q], blocks, static_cast<double*>(partial.get()), f32_of(grad_alphas[g]) + q);
    if (!grad_bases[q].defined()) continue;
    for (int first = 0; first < g_count; first += kBasesPerLaunch) {
      BasisPointers a{}, gr{};
      const int count = std::min(kBasesPerLaunch, g_count - first);
      for (int g = 0; g < count; ++g) a.p[g] = f32_of(alphas[first + g]), gr.p[g] = f32_of(grads[first + g]);
      add_groups_kernel<<<cuda::grid_for(n), cuda::kThreads>>>(a, gr, count, static_cast<int>(q),
                                                               f32_of(grad_bases[q]), n);
      TAPER_CUDA_LAUNCHED();
    }
  }
}

}  // namespace taper

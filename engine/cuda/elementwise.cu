// Element-wise kernels; the CPU reference is engine/cpu/elementwise.cpp.
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cuda_check.h"

namespace taper {

using cuda::f32_of;
using cuda::grid_for;
using cuda::kThreads;

namespace {

__global__ void fill_kernel(float* out, float value, int64_t n) {
  TAPER_GRID_LOOP(i, n) out[i] = value;
}

__global__ void add_kernel(const float* a, const float* b, float* out, int64_t n) {
  TAPER_GRID_LOOP(i, n) out[i] = a[i] + b[i];
}

__global__ void axpy_kernel(float alpha, const float* x, float* y, int64_t n) {
  TAPER_GRID_LOOP(i, n) y[i] += alpha * x[i];
}

__global__ void scale_kernel(const float* x, float s, float* out, int64_t n) {
  TAPER_GRID_LOOP(i, n) out[i] = s * x[i];
}

__global__ void relu_kernel(const float* x, float* out, int64_t n) {
  TAPER_GRID_LOOP(i, n) out[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

__global__ void relu_backward_kernel(const float* out, const float* g, float* gi, int64_t n) {
  TAPER_GRID_LOOP(i, n) gi[i] = out[i] > 0.0f ? g[i] : 0.0f;
}

constexpr float kInvSqrt2 = 0.70710678118654752440f, kInvSqrt2Pi = 0.39894228040143267794f;

__global__ void gelu_kernel(const float* x, float* out, int64_t n) {
  TAPER_GRID_LOOP(i, n) out[i] = 0.5f * x[i] * (1.0f + erff(x[i] * kInvSqrt2));
}

// d/dx x Phi(x) = Phi(x) + x phi(x).
__global__ void gelu_backward_kernel(const float* x, const float* g, float* gi, int64_t n) {
  TAPER_GRID_LOOP(i, n) {
    const float v = x[i];
    const float cdf = 0.5f * (1.0f + erff(v * kInvSqrt2)), pdf = kInvSqrt2Pi * expf(-0.5f * v * v);
    gi[i] = g[i] * (cdf + v * pdf);
  }
}

}  // namespace

void CudaBackend::fill(Tensor& out, float value) {
  const int64_t n = out.numel();
  if (n == 0) return;
  fill_kernel<<<grid_for(n), kThreads>>>(f32_of(out), value, n);
  TAPER_CUDA_LAUNCHED();
}

void CudaBackend::copy(Tensor& dst, const Tensor& src) {
  if (src.nbytes()) TAPER_CUDA_CHECK(cudaMemcpyAsync(dst.data_ptr(), src.data_ptr(), src.nbytes(), cudaMemcpyDeviceToDevice));
}

void CudaBackend::add(const Tensor& a, const Tensor& b, Tensor& out) {
  const int64_t n = out.numel();
  if (n == 0) return;
  add_kernel<<<grid_for(n), kThreads>>>(f32_of(a), f32_of(b), f32_of(out), n);
  TAPER_CUDA_LAUNCHED();
}

// Two launches: the sum, then relu in place (the fusion is the CPU's saving;
// on the GPU these passes are a small part of a step).
void CudaBackend::add_relu(const Tensor& a, const Tensor& b, Tensor& out) {
  add(a, b, out);
  relu(out, out);
}

void CudaBackend::axpy(float alpha, const Tensor& x, Tensor& y) {
  const int64_t n = y.numel();
  if (n == 0) return;
  axpy_kernel<<<grid_for(n), kThreads>>>(alpha, f32_of(x), f32_of(y), n);
  TAPER_CUDA_LAUNCHED();
}

void CudaBackend::scale(const Tensor& x, float s, Tensor& out) {
  const int64_t n = out.numel();
  if (n == 0) return;
  scale_kernel<<<grid_for(n), kThreads>>>(f32_of(x), s, f32_of(out), n);
  TAPER_CUDA_LAUNCHED();
}

void CudaBackend::relu(const Tensor& x, Tensor& out) {
  const int64_t n = out.numel();
  if (n == 0) return;
  relu_kernel<<<grid_for(n), kThreads>>>(f32_of(x), f32_of(out), n);
  TAPER_CUDA_LAUNCHED();
}

void CudaBackend::relu_backward(const Tensor& out, const Tensor& grad_out, Tensor& grad_in) {
  const int64_t n = grad_in.numel();
  if (n == 0) return;
  relu_backward_kernel<<<grid_for(n), kThreads>>>(f32_of(out), f32_of(grad_out), f32_of(grad_in), n);
  TAPER_CUDA_LAUNCHED();
}

void CudaBackend::gelu(const Tensor& x, Tensor& out) {
  const int64_t n = out.numel();
  if (n == 0) return;
  gelu_kernel<<<grid_for(n), kThreads>>>(f32_of(x), f32_of(out), n);
  TAPER_CUDA_LAUNCHED();
}

void CudaBackend::gelu_backward(const Tensor& x, const Tensor& grad_out, Tensor& grad_in) {
  const int64_t n = grad_in.numel();
  if (n == 0) return;
  gelu_backward_kernel<<<grid_for(n), kThreads>>>(f32_of(x), f32_of(grad_out), f32_of(grad_in), n);
  TAPER_CUDA_LAUNCHED();
}

}  // namespace taper

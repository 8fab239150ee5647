// Max pooling with argmax and global average pooling; the CPU reference is
// engine/cpu/pool.cpp. Max pooling is our own kernel rather than cuDNN's so
// that it keeps the op's contract: the argmax the backward pass reads, and
// PyTorch's choice among ties (the first maximum) and NaN propagation.
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cuda_check.h"

namespace taper {

using cuda::f32_of;
using cuda::i64_of;

namespace {

// One thread per output element.
__global__ void max_pool_kernel(const float* x, float* y, int64_t* argmax, Window2d g) {
  const int64_t out_plane = g.h_out * g.w_out, in_plane = g.h_in * g.w_in;
  TAPER_GRID_LOOP(o, g.n * g.c_in * out_plane) {
    const int64_t pl = o / out_plane, oh = (o % out_plane) / g.w_out, ow = o % g.w_out;
    const float* src = x + pl * in_plane;
    float best = -INFINITY;
    int64_t where = -1;
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t ih = oh * g.stride_h - g.pad_h + i;
      if (ih < 0 || ih >= g.h_in) continue;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t iw = ow * g.stride_w - g.pad_w + j;
        if (iw < 0 || iw >= g.w_in) continue;
        const float v = src[ih * g.w_in + iw];
        if (v > best || where < 0 || v != v) {
          best = v;
          where = ih * g.w_in + iw;
        }
      }
    }
    y[o] = best;
    argmax[o] = where;
  }
}

// Overlapping windows can pick the same input: atomics add their shares.
__global__ void max_pool_backward_kernel(const float* gy, const int64_t* argmax, float* gx, Window2d g) {
  const int64_t out_plane = g.h_out * g.w_out, in_plane = g.h_in * g.w_in;
  TAPER_GRID_LOOP(o, g.n * g.c_in * out_plane) atomicAdd(gx + (o / out_plane) * in_plane + argmax[o], gy[o]);
}

// One thread per plane (planes are small: 4x4 to 8x8 in the ResNets).
__global__ void avg_pool_kernel(const float* x, float* y, int64_t planes, int64_t s) {
  TAPER_GRID_LOOP(pl, planes) {
    double sum = 0.0;
    for (int64_t k = 0; k < s; ++k) sum += x[pl * s + k];
    y[pl] = static_cast<float>(sum / s);
  }
}

__global__ void avg_pool_backward_kernel(const float* gy, float* gx, int64_t planes, int64_t s) {
  TAPER_GRID_LOOP(i, planes * s) gx[i] = gy[i / s] / static_cast<float>(s);
}

}  // namespace

void CudaBackend::max_pool2d_forward(const Tensor& x, Tensor& y, Tensor& argmax, const Window2d& g) {
  const int64_t n = y.numel();
  if (n == 0) return;
  max_pool_kernel<<<cuda::grid_for(n), cuda::kThreads>>>(f32_of(x), f32_of(y), i64_of(argmax), g);
  TAPER_CUDA_LAUNCHED();
}

void CudaBackend::max_pool2d_backward(const Tensor& grad_y, const Tensor& argmax, Tensor& grad_x, const Window2d& g) {
  zero(grad_x);
  const int64_t n = grad_y.numel();
  if (n == 0) return;
  max_pool_backward_kernel<<<cuda::grid_for(n), cuda::kThreads>>>(f32_of(grad_y), i64_of(argmax), f32_of(grad_x), g);
  TAPER_CUDA_LAUNCHED();
}

void CudaBackend::global_avg_pool_forward(const Tensor& x, Tensor& y) {
  const int64_t planes = x.size(0) * x.size(1), s = x.size(2) * x.size(3);
  if (planes == 0) return;
  avg_pool_kernel<<<cuda::grid_for(planes), cuda::kThreads>>>(f32_of(x), f32_of(y), planes, s);
  TAPER_CUDA_LAUNCHED();
}

void CudaBackend::global_avg_pool_backward(const Tensor& grad_y, Tensor& grad_x) {
  const int64_t planes = grad_x.size(0) * grad_x.size(1), s = grad_x.size(2) * grad_x.size(3);
  if (planes * s == 0) return;
  avg_pool_backward_kernel<<<cuda::grid_for(planes * s), cuda::kThreads>>>(f32_of(grad_y), f32_of(grad_x), planes, s);
  TAPER_CUDA_LAUNCHED();
}

}  // namespace taper

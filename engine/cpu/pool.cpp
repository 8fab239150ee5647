#include <limits>

#include "engine/cpu/cpu_backend.h"

namespace taper {

void CpuBackend::max_pool2d_forward(const Tensor& x, Tensor& y, Tensor& argmax, const Window2d& g) {
  const float* px = x.f32();
  float* py = y.f32();
  int64_t* pa = argmax.i64();
  const int64_t planes = g.n * g.c_in, in_plane = g.h_in * g.w_in, out_plane = g.h_out * g.w_out;
#pragma omp parallel for schedule(static) if (planes * out_plane > kParallelGrain / 8)
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* src = px + pl * in_plane;
    for (int64_t oh = 0; oh < g.h_out; ++oh) {
      for (int64_t ow = 0; ow < g.w_out; ++ow) {
        float best = -std::numeric_limits<float>::infinity();
        int64_t where = -1;
        for (int64_t i = 0; i < g.kh; ++i) {
          const int64_t ih = oh * g.stride_h - g.pad_h + i;
          if (ih < 0 || ih >= g.h_in) continue;
          for (int64_t j = 0; j < g.kw; ++j) {
            const int64_t iw = ow * g.stride_w - g.pad_w + j;
            if (iw < 0 || iw >= g.w_in) continue;
            // ">" keeps the first maximum, as PyTorch does; NaN propagates.
            const float v = src[ih * g.w_in + iw];
            if (v > best || where < 0 || v != v) {
              best = v;
              where = ih * g.w_in + iw;
            }
          }
        }
        py[pl * out_plane + oh * g.w_out + ow] = best;
        pa[pl * out_plane + oh * g.w_out + ow] = where;
      }
    }
  }
}

void CpuBackend::max_pool2d_backward(const Tensor& grad_y, const Tensor& argmax, Tensor& grad_x,
                                     const Window2d& g) {
  const float* pgy = grad_y.f32();
  const int64_t* pa = argmax.i64();
  float* pgx = grad_x.f32();
  fill(grad_x, 0.0f);
  const int64_t planes = g.n * g.c_in, in_plane = g.h_in * g.w_in, out_plane = g.h_out * g.w_out;
#pragma omp parallel for schedule(static) if (planes * out_plane > kParallelGrain / 8)
  for (int64_t pl = 0; pl < planes; ++pl) {
    for (int64_t k = 0; k < out_plane; ++k) pgx[pl * in_plane + pa[pl * out_plane + k]] += pgy[pl * out_plane + k];
  }
}

void CpuBackend::global_avg_pool_forward(const Tensor& x, Tensor& y) {
  const int64_t planes = x.size(0) * x.size(1), s = x.size(2) * x.size(3);
  const float* px = x.f32();
  float* py = y.f32();
#pragma omp parallel for schedule(static) if (planes * s > kParallelGrain)
  for (int64_t pl = 0; pl < planes; ++pl) {
    double sum = 0.0;
    for (int64_t k = 0; k < s; ++k) sum += px[pl * s + k];
    py[pl] = static_cast<float>(sum / s);
  }
}

void CpuBackend::global_avg_pool_backward(const Tensor& grad_y, Tensor& grad_x) {
  const int64_t planes = grad_x.size(0) * grad_x.size(1), s = grad_x.size(2) * grad_x.size(3);
  const float* pgy = grad_y.f32();
  float* pgx = grad_x.f32();
#pragma omp parallel for schedule(static) if (planes * s > kParallelGrain)
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float v = pgy[pl] / static_cast<float>(s);
    for (int64_t k = 0; k < s; ++k) pgx[pl * s + k] = v;
  }
}

}  // namespace taper

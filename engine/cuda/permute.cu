// Axis permutation into a contiguous output, one thread per output element
// (reads are strided, writes coalesced); the CPU reference is
// engine/cpu/permute.cpp.
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cuda_check.h"

namespace taper {

using cuda::f32_of;

namespace {

// Per output axis: its extent and the input stride it walks. Passed by value.
struct PermuteGeometry {
  int ndim = 0;
  int64_t extent[kMaxDims] = {}, src_stride[kMaxDims] = {};
};

__global__ void permute_kernel(const float* x, float* out, PermuteGeometry g, int64_t n) {
  TAPER_GRID_LOOP(r, n) {
    int64_t rest = r, src = 0;
    for (int i = g.ndim - 1; i >= 0; --i) {
      src += (rest % g.extent[i]) * g.src_stride[i];
      rest /= g.extent[i];
    }
    out[r] = x[src];
  }
}

}  // namespace

void CudaBackend::permute(const Tensor& x, const std::vector<int>& dims, Tensor& out) {
  const int64_t n = out.numel();
  if (n == 0) return;
  const int nd = x.ndim();
  int64_t in_stride[kMaxDims];
  int64_t stride = 1;
  for (int d = nd - 1; d >= 0; --d) {
    in_stride[d] = stride;
    stride *= x.size(d);
  }
  PermuteGeometry g;
  g.ndim = nd;
  for (int i = 0; i < nd; ++i) {
    g.extent[i] = x.size(dims[i]);
    g.src_stride[i] = in_stride[dims[i]];
  }
  permute_kernel<<<cuda::grid_for(n), cuda::kThreads>>>(f32_of(x), f32_of(out), g, n);
  TAPER_CUDA_LAUNCHED();
}

}  // namespace taper

// Axis permutation into a contiguous output. The output is walked in order;
// when the last axis stays last (attention's head split and merge), whole
// rows are copied.
#include <cstring>

#include "engine/cpu/cpu_backend.h"

namespace taper {

void CpuBackend::permute(const Tensor& x, const std::vector<int>& dims, Tensor& out) {
  const int nd = x.ndim();
  const Shape& in_shape = x.shape();
  int64_t in_stride[kMaxDims];
  for (int d = nd - 1, s = 1; d >= 0; --d) {
    in_stride[d] = s;
    s *= in_shape.dims[d];
  }
  // Source stride of each output axis; the innermost run is copied as a block.
  int64_t src_stride[kMaxDims], extent[kMaxDims];
  for (int i = 0; i < nd; ++i) {
    src_stride[i] = in_stride[dims[i]];
    extent[i] = in_shape.dims[dims[i]];
  }
  const bool row_copy = nd > 0 && dims[nd - 1] == nd - 1;
  const int outer = row_copy ? nd - 1 : nd;
  const int64_t run = row_copy ? extent[nd - 1] : 1;
  const int64_t count = out.numel() / (run > 0 ? run : 1);
  const float* px = x.f32();
  float* po = out.f32();
  if (out.numel() == 0) return;
#pragma omp parallel for schedule(static) if (out.numel() > kParallelGrain)
  for (int64_t r = 0; r < count; ++r) {
    int64_t rest = r, src = 0;
    for (int i = outer - 1; i >= 0; --i) {
      src += (rest % extent[i]) * src_stride[i];
      rest /= extent[i];
    }
    if (row_copy) {
      std::memcpy(po + r * run, px + src, run * sizeof(float));
    } else {
      po[r] = px[src];
    }
  }
}

}  // namespace taper

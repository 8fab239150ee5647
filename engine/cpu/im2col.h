// The layout moves of the im2col convolution (conv2d.cpp): image patches to
// GEMM columns and back, and NCHW to and from the GEMM's [Cout, images*plane].
// Each is an OpenMP loop; called inside a parallel region it runs on the
// calling thread alone.
#pragma once

#include <cstdint>

#include "engine/backend.h"

namespace taper {

// Output rows [begin, end) of every image; all of them by default.
struct OutputRows {
  int64_t begin = 0, end = -1;  // end -1: h_out
};

// col[(c, i, j), b*part + (oh - begin)*WO + ow] = x[n0+b, c, oh*s - p + i, ow*s - p + j]
// (0 outside), where part = (end - begin)*WO.
void im2col(const float* x, float* col, int64_t n0, int64_t images, const Window2d& g, OutputRows rows = {});
// The adjoint of im2col: grad_x += scatter(col).
void col2im(const float* col, float* grad_x, int64_t n0, int64_t images, const Window2d& g, OutputRows rows = {});
// y[n0+b, co, :] (NCHW) -> m[co, b*plane + :].
void nchw_to_gemm(const float* y, float* m, int64_t n0, int64_t images, int64_t c_out, int64_t plane);
// m[co, b*plane + :] (+ bias[co] when bias is not null) -> y[n0+b, co, :].
void gemm_to_nchw(const float* m, float* y, const float* bias, int64_t n0, int64_t images, int64_t c_out,
                  int64_t plane);

}  // namespace taper

// Direct 3x3 convolution for narrow layers (conv2d.cpp chooses it by shape).
//
// With 16-64 channels, im2col + GEMM does only Cin*9 multiply-adds per
// element it copies, so the copies and the GEMM's packing cost as much as
// the arithmetic (perf on a ResNet-8 step: im2col 16%, packing 9%, the GEMM
// kernel 28%). This kernel reads a padded copy of each image instead of a
// 9x column matrix and keeps 4 output channels x 24 pixels in registers.
//
// Layout: the padded image is split into stride x stride phase planes, so
// that a stride-2 tap reads consecutive floats as a stride-1 tap does, and
// every tap is a constant offset from where a vector of outputs reads. Where
// the output rows are whole vectors (WO a multiple of 8), each vector reads
// at its own place and is stored straight into y; other maps are computed
// on the planes' width (cols >= WO) and their extra columns dropped. The
// stride-2 data gradient is four stride-1 correlations, one per phase of
// grad_x, with the kernel taps of that phase.
#pragma once

#include "engine/backend.h"

namespace taper {

// 3x3 kernels with stride 1 or 2 and equal padding (at most 2) in both axes.
bool direct_conv_fits(const Window2d& g);

// y = conv(x, w) + bias (bias may be null); NCHW, w [Cout, Cin, 3, 3].
void direct_conv_forward(const float* x, const float* w, const float* bias, float* y, const Window2d& g);

// grad_x of a stride-2 layer (a stride-1 one is a forward of grad_y with the
// kernel flipped: conv2d.cpp).
void direct_conv_backward_data(const float* grad_y, const float* w, float* grad_x, const Window2d& g);

// grad_w = sum over the batch of grad_y (x) patches of x, and grad_bias (may
// be null) the sums of grad_y per channel. The images are summed in at most
// 8 fixed parts, then the parts in order: no result depends on the thread count.
void direct_conv_backward_weight(const float* x, const float* grad_y, float* grad_w, float* grad_bias,
                                 const Window2d& g);

}  // namespace taper

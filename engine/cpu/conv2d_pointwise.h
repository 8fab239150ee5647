// Direct 1x1 convolution for narrow layers: a ResNet's stride-2 shortcuts
// (conv2d.cpp chooses it by shape).
//
// As im2col + GEMM, a 16 -> 32 channel shortcut at 32x32 -> 16x16 ran at
// 11-20 GFLOP/s in a ResNet-8 training step on one thread (the 3x3 layers
// beside it at 52-101): with Cin = 16 multiply-adds per output, the GEMM's
// packing and im2col's element-by-element gather cost more than the
// arithmetic. Here the layer is forward_block's sum over Cin taps, each a
// whole input channel of the sampled image ([Cin][HO*WO]: every other row
// and column at stride 2); the data gradient is the same sum over Cout taps
// of grad_y, spread back to the sampled places; the weight gradient is
// weight_block over the sampled channels (conv2d_blocks.h).
#pragma once

#include "engine/backend.h"

namespace taper {

// 1x1 kernels, no padding, stride 1 or 2 in both axes, an output map of
// whole vectors (HO*WO a multiple of 8 floats with AVX, else 4).
bool pointwise_conv_fits(const Window2d& g);

// y = conv(x, w) + bias (bias may be null); NCHW, w [Cout, Cin, 1, 1].
void pointwise_conv_forward(const float* x, const float* w, const float* bias, float* y, const Window2d& g);

// grad_x of a stride-2 layer, zeros at the places it skips (a stride-1
// one is a forward of grad_y with the weights transposed: conv2d.cpp).
void pointwise_conv_backward_data(const float* grad_y, const float* w, float* grad_x, const Window2d& g);

// grad_w = sum over the batch of grad_y (x) x at the sampled places, and
// grad_bias (may be null) the sums of grad_y per channel; in fixed
// partitions of the images, as the 3x3 kernel's.
void pointwise_conv_backward_weight(const float* x, const float* grad_y, float* grad_w, float* grad_bias,
                                    const Window2d& g);

}  // namespace taper

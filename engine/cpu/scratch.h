// Scratch memory for the convolution kernels, reused across calls:
// allocating and zero-filling a large vector per call cost as much as the
// GEMM on small layers (bench/conv_resnet18). One set of slots per thread;
// a slot never shrinks.
//   conv2d.cpp:        0 columns, 1 GEMM-layout output, 2 partition sums or flipped weights
//   conv2d_direct.cpp: 3 padded phase planes, 4 output (or grad_y) on the planes' width
//   conv2d_pointwise.cpp: 3 sampled input, 4 data gradient before its spread
//   conv2d_blocks.h:   5 weight-gradient partition sums
//   im2col.cpp:        6 one channel's input planes split into their stride phases
#pragma once

#include <cstdint>
#include <memory>

namespace taper {

inline float* scratch(int slot, int64_t floats) {
  struct Buffer {
    std::unique_ptr<float[]> data;
    int64_t size = 0;
  };
  thread_local Buffer buffers[7];
  Buffer& b = buffers[slot];
  if (b.size < floats) {
    b.data.reset(new float[floats]);  // uninitialised: every use writes before reading
    b.size = floats;
  }
  return b.data.get();
}

}  // namespace taper

// One output value of the CIFAR-style augmentation (zero-padded random crop,
// optional horizontal flip, per-channel normalisation), shared by the host
// path (data/augment.cpp), the CPU kernel (engine/cpu/augment.cpp) and the
// CUDA kernel (engine/cuda/augment.cu), so that the three give the same bits.
#pragma once

#include <cstdint>

#ifdef __CUDACC__
#define TAPER_HOST_DEVICE __host__ __device__
#else
#define TAPER_HOST_DEVICE
#endif

namespace taper {

// The crop of one image: output pixel (y, x) is padded pixel (top + y,
// left + x), mirrored first when flip; top, left in [0, 2 * padding].
struct PadCropNormalize {
  int64_t padding = 4;
  float mean[3] = {0, 0, 0}, std[3] = {1, 1, 1};
};

// Output value (c, y, x) from an HWC RGB image of h x w bytes:
// (pixel / 255 - mean[c]) / std[c], with 0 for pixels outside the image.
TAPER_HOST_DEVICE inline float pad_crop_value(const uint8_t* hwc, int64_t h, int64_t w, int64_t top, int64_t left,
                                              bool flip, int64_t c, int64_t y, int64_t x, const PadCropNormalize& p) {
  const int64_t sy = top + y - p.padding;
  const int64_t sx = left + (flip ? w - 1 - x : x) - p.padding;
  const bool inside = sy >= 0 && sy < h && sx >= 0 && sx < w;
  const float byte_value = inside ? static_cast<float>(hwc[(sy * w + sx) * 3 + c]) : 0.0f;
  return (byte_value / 255.0f - p.mean[c]) / p.std[c];
}

}  // namespace taper

// CIFAR-style batches from resident image bytes: the reference of
// engine/cuda/augment.cu (the per-value rule is engine/pad_crop.h).
#include "engine/cpu/cpu_backend.h"

namespace taper {

void CpuBackend::pad_crop_normalize(const Tensor& images, const Tensor& crops, Tensor& out, const PadCropNormalize& p) {
  const int64_t rows = out.size(0), h = images.size(1), w = images.size(2);
  const uint8_t* px = images.u8();
  const int64_t* pc = crops.i64();
  float* po = out.f32();
#pragma omp parallel for schedule(static) if (rows * h * w > kParallelGrain)
  for (int64_t b = 0; b < rows; ++b) {
    const int64_t* crop = pc + 4 * b;
    const uint8_t* image = px + crop[0] * h * w * 3;
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) {
          po[((b * 3 + c) * h + y) * w + x] = pad_crop_value(image, h, w, crop[1], crop[2], crop[3] != 0, c, y, x, p);
        }
  }
}

}  // namespace taper

// CIFAR-style batches from image bytes resident on the device, one thread per
// output value; the CPU reference is engine/cpu/augment.cpp (the per-value
// rule, shared by both, is engine/pad_crop.h).
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cuda_check.h"

namespace taper {

namespace {
__global__ void pad_crop_kernel(const uint8_t* images, const int64_t* crops, float* out, int64_t rows, int64_t h,
                                int64_t w, PadCropNormalize p) {
  TAPER_GRID_LOOP(i, rows * 3 * h * w) {
    const int64_t x = i % w, y = (i / w) % h, c = (i / (h * w)) % 3, b = i / (3 * h * w);
    const int64_t* crop = crops + 4 * b;
    out[i] = pad_crop_value(images + crop[0] * h * w * 3, h, w, crop[1], crop[2], crop[3] != 0, c, y, x, p);
  }
}
}  // namespace

void CudaBackend::pad_crop_normalize(const Tensor& images, const Tensor& crops, Tensor& out,
                                     const PadCropNormalize& p) {
  const int64_t rows = out.size(0), h = images.size(1), w = images.size(2);
  if (rows == 0) return;
  pad_crop_kernel<<<cuda::grid_for(rows * 3 * h * w), cuda::kThreads>>>(
      static_cast<const uint8_t*>(images.data_ptr()), cuda::i64_of(crops), cuda::f32_of(out), rows, h, w, p);
  TAPER_CUDA_LAUNCHED();
}

}  // namespace taper

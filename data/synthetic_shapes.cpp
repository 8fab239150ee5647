#include "data/synthetic_shapes.h"

#include <cstring>

#include "engine/rng.h"

namespace taper {

namespace {
// True where class `label`'s line, offset by `shift`, covers pixel (y, x).
bool on_line(int label, int64_t y, int64_t x, int64_t shift, int64_t size) {
  switch (label) {
    case 0: return y == shift || y == shift + 1;
    case 1: return x == shift || x == shift + 1;
    case 2: return (y - x + size) % size == shift % size;
    default: return (y + x) % size == shift % size;
  }
}
}  // namespace

ImageBatch make_synthetic_shapes(int64_t count, int64_t size, uint64_t seed, float noise) {
  check_arg(count > 0 && size >= 4, "make_synthetic_shapes", "need count > 0 and size >= 4");
  ImageBatch b{Tensor::empty({count, 3, size, size}), Tensor::empty({count}, DType::I64)};
  Generator gen(seed);
  gen.fork(1).normal(b.images, 0.0f, noise);
  Generator pick = gen.fork(2);
  float* px = b.images.f32();
  for (int64_t n = 0; n < count; ++n) {
    const int label = static_cast<int>(pick.below(4));
    const int64_t shift = static_cast<int64_t>(pick.below(size - 1));
    b.labels.i64()[n] = label;
    for (int64_t c = 0; c < 3; ++c) {
      const float colour = 0.5f + static_cast<float>(pick.next_double());
      for (int64_t y = 0; y < size; ++y) {
        for (int64_t x = 0; x < size; ++x) {
          if (on_line(label, y, x, shift, size)) px[((n * 3 + c) * size + y) * size + x] += colour;
        }
      }
    }
  }
  return b;
}

ImageBatch slice(const ImageBatch& batch, int64_t begin, int64_t end) {
  const int64_t n = batch.images.size(0);
  check_arg(0 <= begin && begin < end && end <= n, "slice", [&] {
    return "rows [" + std::to_string(begin) + ", " + std::to_string(end) + ") of " + std::to_string(n);
  });
  Shape shape = batch.images.shape();
  shape.dims[0] = end - begin;
  ImageBatch out{Tensor::empty(shape), Tensor::empty({end - begin}, DType::I64)};
  const int64_t per_image = batch.images.numel() / n;
  std::memcpy(out.images.f32(), batch.images.f32() + begin * per_image, out.images.nbytes());
  std::memcpy(out.labels.i64(), batch.labels.i64() + begin, out.labels.nbytes());
  return out;
}

}  // namespace taper

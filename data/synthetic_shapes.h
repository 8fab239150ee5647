// A synthetic, separable 4-class image problem for engine tests and the
// demo: each image holds one bright line (horizontal, vertical, diagonal or
// anti-diagonal = the class) at a random position and colour, on noise.
#pragma once

#include <cstdint>

#include "engine/tensor.h"

namespace taper {

struct ImageBatch {
  Tensor images;  // [N, 3, size, size] float32
  Tensor labels;  // [N] int64 in [0, 4)
};

// Fully determined by (count, size, seed).
ImageBatch make_synthetic_shapes(int64_t count, int64_t size, uint64_t seed, float noise = 0.4f);

// Rows [begin, end) of a batch, copied.
ImageBatch slice(const ImageBatch& batch, int64_t begin, int64_t end);

}  // namespace taper

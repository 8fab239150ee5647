// Counter-based random numbers (Philox4x32-10, Salmon et al. 2011).
//
// Element i of a draw is a pure function of (seed, stream, offset + i), so a
// run is fully determined by its seed, and the numbers do not depend on how
// many threads produce them or in which order.
#pragma once

#include <array>
#include <vector>
#include <cstdint>

#include "engine/tensor.h"

namespace taper {

// One Philox4x32-10 block: four 32-bit outputs for a 128-bit counter.
std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key);

class Generator {
 public:
  explicit Generator(uint64_t seed, uint64_t stream = 0) : seed_(seed), stream_(stream) {}

  // An independent generator for a named purpose (init, shuffling, ...).
  Generator fork(uint64_t stream) const;

  // Each draw consumes a fresh range of counters.
  void normal(Tensor& out, float mean = 0.0f, float stddev = 1.0f);
  void uniform(Tensor& out, float low = 0.0f, float high = 1.0f);
  uint64_t next_u64();
  double next_double();  // in [0, 1)
  uint64_t below(uint64_t n);  // uniform in [0, n)
  // Fisher-Yates from the back: element i swaps with one of [0, i].
  void shuffle(std::vector<int64_t>& v);

  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }

 private:
  std::array<uint32_t, 4> block(uint64_t index) const;
  template <typename Four>
  void fill_blocks(Tensor& out, Four four);
  uint64_t seed_;
  uint64_t stream_;
  uint64_t offset_ = 0;  // counters consumed so far
};

}  // namespace taper

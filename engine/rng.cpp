#include "engine/rng.h"

#include <cmath>
#include <utility>

namespace taper {

std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> c, std::array<uint32_t, 2> key) {
  constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = uint64_t{kMul0} * c[0];
    uint64_t p1 = uint64_t{kMul1} * c[2];
    c = {static_cast<uint32_t>(p1 >> 32) ^ c[1] ^ key[0], static_cast<uint32_t>(p1),
         static_cast<uint32_t>(p0 >> 32) ^ c[3] ^ key[1], static_cast<uint32_t>(p0)};
    key[0] += kWeyl0;
    key[1] += kWeyl1;
  }
  return c;
}

std::array<uint32_t, 4> Generator::block(uint64_t index) const {
  return philox4x32({static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32),
                     static_cast<uint32_t>(stream_), static_cast<uint32_t>(stream_ >> 32)},
                    {static_cast<uint32_t>(seed_), static_cast<uint32_t>(seed_ >> 32)});
}

Generator Generator::fork(uint64_t stream) const {
  // Mix the parent's stream into the child's so that forks of forks differ.
  return Generator(seed_, stream_ * 0x9E3779B97F4A7C15ull + stream + 1);
}

namespace {
// 24 random bits as a float in [0, 1) and in (0, 1].
float unit_open_high(uint32_t x) { return static_cast<float>(x >> 8) * 0x1.0p-24f; }
float unit_open_low(uint32_t x) { return static_cast<float>((x >> 8) + 1) * 0x1.0p-24f; }
}  // namespace

// Element i of a draw uses counter block (first + i / 4): `four` turns one
// block's four 32-bit words into the four floats out[0..4).
template <typename Four>
void Generator::fill_blocks(Tensor& out, Four four) {
  float* p = out.f32();
  const int64_t n = out.numel();
  const uint64_t first = offset_ / 4;
  const int64_t blocks = (n + 3) / 4;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks; ++b) {
    float v[4];
    four(block(first + b), v);
    for (int k = 0; k < 4 && 4 * b + k < n; ++k) p[4 * b + k] = v[k];
  }
  offset_ += 4 * blocks;
}

// Two Box-Muller pairs per block.
void Generator::normal(Tensor& out, float mean, float stddev) {
  fill_blocks(out, [=](const std::array<uint32_t, 4>& r, float* v) {
    for (int pair = 0; pair < 2; ++pair) {
      const float radius = std::sqrt(-2.0f * std::log(unit_open_low(r[2 * pair])));
      const float angle = 6.28318530717958647692f * unit_open_high(r[2 * pair + 1]);
      v[2 * pair] = mean + stddev * radius * std::cos(angle);
      v[2 * pair + 1] = mean + stddev * radius * std::sin(angle);
    }
  });
}

void Generator::uniform(Tensor& out, float low, float high) {
  fill_blocks(out, [=](const std::array<uint32_t, 4>& r, float* v) {
    for (int k = 0; k < 4; ++k) v[k] = low + (high - low) * unit_open_high(r[k]);
  });
}

uint64_t Generator::next_u64() {
  auto r = block(offset_ / 4);
  offset_ += 4;
  return (uint64_t{r[0]} << 32) | r[1];
}

double Generator::next_double() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

void Generator::shuffle(std::vector<int64_t>& v) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
}

uint64_t Generator::below(uint64_t n) {
  // Rejection sampling removes the modulo bias.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do {
    x = next_u64();
  } while (x >= limit);
  return x % n;
}

}  // namespace taper

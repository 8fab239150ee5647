// The counter-based generator: known answers, seeds, thread independence,
// and Kaiming initialisation's statistics.
#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>

#include "engine/init.h"
#include "engine/rng.h"

using namespace taper;

TEST_CASE("rng: Philox4x32-10 reproduces the Random123 known-answer vectors") {
  CHECK(philox4x32({0, 0, 0, 0}, {0, 0}) == std::array<uint32_t, 4>{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8});
  CHECK(philox4x32({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff}) ==
        std::array<uint32_t, 4>{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd});
  CHECK(philox4x32({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}) ==
        std::array<uint32_t, 4>{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1});
}

TEST_CASE("rng: a seed determines the stream; streams and seeds differ") {
  Tensor a = Tensor::empty({1001}), b = Tensor::empty({1001}), c = Tensor::empty({1001});
  Generator g1(7), g2(7), g3(8);
  g1.normal(a);
  g2.normal(b);
  g3.normal(c);
  CHECK(a.to_vector() == b.to_vector());
  CHECK(a.to_vector() != c.to_vector());
  Tensor d = Tensor::empty({1001});
  g1.normal(d);  // the next draw continues the stream
  CHECK(d.to_vector() != a.to_vector());
  Tensor e = Tensor::empty({1001});
  Generator(7).fork(1).normal(e);
  CHECK(e.to_vector() != a.to_vector());
}

TEST_CASE("rng: draws do not depend on the thread count") {
  Tensor one = Tensor::empty({100003}), two = Tensor::empty({100003});
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  Generator(3).normal(one);
  omp_set_num_threads(2);
  Generator(3).normal(two);
  omp_set_num_threads(threads);
  CHECK(one.to_vector() == two.to_vector());
}

TEST_CASE("rng: normal and uniform have the right moments; below() stays in range") {
  Tensor t = Tensor::empty({200000});
  Generator gen(11);
  gen.normal(t, 1.0f, 2.0f);
  double sum = 0, sq = 0;
  for (float v : t.to_vector()) sum += v, sq += v * v;
  const double mean = sum / t.numel(), var = sq / t.numel() - mean * mean;
  CHECK(mean == doctest::Approx(1.0).epsilon(0.02));
  CHECK(std::sqrt(var) == doctest::Approx(2.0).epsilon(0.01));
  gen.uniform(t, -1.0f, 3.0f);
  float lo = 10, hi = -10;
  for (float v : t.to_vector()) lo = std::min(lo, v), hi = std::max(hi, v);
  CHECK(lo >= -1.0f);
  CHECK(hi < 3.0f);
  for (int i = 0; i < 1000; ++i) CHECK(gen.below(7) < 7);
}

TEST_CASE("init: Kaiming normal has std sqrt(2 / fan_out) for convolution weights") {
  Tensor w = Tensor::empty({256, 64, 3, 3});
  Generator gen(5);
  kaiming_normal(w, gen, FanMode::FanOut);
  CHECK(fan(w, FanMode::FanOut) == 256 * 9);
  CHECK(fan(w, FanMode::FanIn) == 64 * 9);
  double sq = 0;
  for (float v : w.to_vector()) sq += v * v;
  CHECK(std::sqrt(sq / w.numel()) == doctest::Approx(std::sqrt(2.0 / (256 * 9))).epsilon(0.01));
}

// End to end: the engine learns, and a seed fixes every bit of a run.
#include <doctest/doctest.h>
#include <omp.h>

#include <cstring>

#include "nn/tiny_cnn.h"

using namespace taper;

namespace {
// Trains a fresh model and returns it.
TinyCnn train_once(const ImageBatch& train, uint64_t seed) {
  TinyCnn model(4, seed);
  FitOptions options;
  options.seed = seed;
  fit(model, train, options);
  return model;
}

bool bit_identical(const std::map<std::string, Tensor>& a, const std::map<std::string, Tensor>& b) {
  for (const auto& [name, t] : a) {
    const Tensor& u = b.at(name);
    if (std::memcmp(t.data_ptr(), u.data_ptr(), t.nbytes()) != 0) return false;
  }
  return true;
}
}  // namespace

TEST_CASE("training: a tiny CNN learns the synthetic 4-class problem to >= 95%") {
  const ImageBatch train = make_synthetic_shapes(512, 16, 1), test = make_synthetic_shapes(512, 16, 2);
  TinyCnn model = train_once(train, 0);
  const float acc = accuracy(model, test);
  MESSAGE("held-out accuracy " << acc);
  CHECK(acc >= 0.95f);
}

TEST_CASE("determinism: one seed gives bit-identical weights, for 1 or 2 threads") {
  const ImageBatch train = make_synthetic_shapes(128, 16, 3);
  const int threads = omp_get_max_threads();
  TinyCnn a = train_once(train, 5), b = train_once(train, 5);
  CHECK(bit_identical(a.params, b.params));
  CHECK(bit_identical(a.buffers, b.buffers));
  omp_set_num_threads(1);
  TinyCnn c = train_once(train, 5);
  omp_set_num_threads(threads);
  CHECK(bit_identical(a.params, c.params));
  TinyCnn d = train_once(train, 6);
  CHECK_FALSE(bit_identical(a.params, d.params));
}

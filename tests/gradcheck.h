// Finite-difference gradient checking for the op tests.
//
// For a function f of several tensors, backpropagates a fixed random
// cotangent R and compares each input's analytic gradient with the central
// difference of <R, f(x)> (accumulated in double), element by element.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace taper::testing {

using TensorFn = std::function<Tensor(const std::vector<Tensor>&)>;

struct GradcheckOptions {
  float eps = 5e-3f;
  float atol = 2e-3f;
  float rtol = 2e-2f;
  int64_t max_elements = 256;  // elements probed per input (spread evenly)
};

// Returns "" when every probed gradient matches, otherwise a description of
// the first mismatch (input index, element, analytic vs numeric).
std::string gradcheck(const TensorFn& f, std::vector<Tensor> inputs, GradcheckOptions options = {});

// Deterministic test data.
Tensor randn(const Shape& shape, uint64_t seed, float stddev = 1.0f);
// Distinct values (a shuffled ramp) so that max and relu have no near-ties
// or near-zero kinks within the finite-difference step.
Tensor distinct(const Shape& shape, uint64_t seed, float spacing = 0.05f);

}  // namespace taper::testing

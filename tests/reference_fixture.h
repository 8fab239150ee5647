// The committed PyTorch fixtures (tests/reference/) and the error measure
// the reference tests compare with.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "engine/safetensors.h"

namespace taper::testing {

// tests/reference/<file>, read once per test run.
inline const SafetensorsFile& reference_file(const std::string& file) {
  static std::map<std::string, SafetensorsFile> cache;
  auto it = cache.find(file);
  if (it == cache.end()) {
    it = cache.emplace(file, load_safetensors(std::string(TAPER_SOURCE_DIR) + "/tests/reference/" + file)).first;
  }
  return it->second;
}

inline Tensor reference_tensor(const std::string& file, const std::string& name) {
  const SafetensorsFile& f = reference_file(file);
  auto it = f.tensors.find(name);
  REQUIRE_MESSAGE(it != f.tensors.end(), file << " lacks " << name);
  return it->second;
}

// max |got - want| / max(|want|, floor): the relative error the issues ask
// for; floor sets the scale for tensors whose true value is zero.
inline double relative_error(const Tensor& got, const Tensor& want, double floor = 1e-12) {
  REQUIRE(got.defined());
  REQUIRE(got.shape() == want.shape());
  double diff = 0.0, scale = floor;
  for (int64_t i = 0; i < got.numel(); ++i) {
    diff = std::max(diff, std::fabs(double(got.f32()[i]) - want.f32()[i]));
    scale = std::max(scale, std::fabs(double(want.f32()[i])));
  }
  return diff / scale;
}

}  // namespace taper::testing

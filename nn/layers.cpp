#include "nn/layers.h"

#include <cmath>
#include <stdexcept>

#include "engine/init.h"

namespace taper {

namespace {

template <typename Map>
auto& lookup(Map& tensors, const std::string& name, const std::string& owner, const char* kind) {
  auto it = tensors.find(name);
  if (it == tensors.end()) throw std::invalid_argument(owner + ": missing " + kind + " '" + name + "'");
  return it->second;
}

void init_tensor(Tensor& t, const TensorSpec& spec, Generator& gen) {
  const float bound = spec.fan_in > 0 ? 1.0f / std::sqrt(static_cast<float>(spec.fan_in)) : 0.0f;
  switch (spec.init) {
    case InitKind::KaimingFanOut: kaiming_normal(t, gen, FanMode::FanOut); break;
    case InitKind::Ones: t.fill(1.0f); break;
    case InitKind::Zeros: t.fill(0.0f); break;
    case InitKind::LinearWeight:
    case InitKind::LinearBias: gen.uniform(t, -bound, bound); break;
  }
}

}  // namespace

void SpecList::conv(const std::string& name, int64_t out, int64_t in, int64_t kernel, int stage) {
  params.push_back({name + ".weight", Shape{out, in, kernel, kernel}, InitKind::KaimingFanOut, stage});
}

void SpecList::batch_norm(const std::string& name, int64_t channels, int stage) {
  params.push_back({name + ".weight", Shape{channels}, InitKind::Ones, stage});
  params.push_back({name + ".bias", Shape{channels}, InitKind::Zeros, stage});
  buffers.push_back({name + ".running_mean", Shape{channels}, InitKind::Zeros, stage});
  buffers.push_back({name + ".running_var", Shape{channels}, InitKind::Ones, stage});
}

void SpecList::linear(const std::string& name, int64_t out, int64_t in, int stage) {
  params.push_back({name + ".weight", Shape{out, in}, InitKind::LinearWeight, stage, in});
  params.push_back({name + ".bias", Shape{out}, InitKind::LinearBias, stage, in});
}

TensorMap init_tensors(const std::vector<TensorSpec>& specs, Generator& gen) {
  TensorMap tensors;
  for (const TensorSpec& spec : specs) {
    Tensor t = Tensor::empty(spec.shape);
    init_tensor(t, spec, gen);
    tensors.emplace(spec.name, t);
  }
  return tensors;
}

void check_tensors(const std::vector<TensorSpec>& specs, const TensorMap& tensors, const std::string& owner,
                   const std::string& kind) {
  for (const TensorSpec& spec : specs) {
    const Tensor& t = lookup(tensors, spec.name, owner, kind.c_str());
    if (!t.defined() || t.shape() != spec.shape) {
      const std::string got = t.defined() ? t.shape().str() : "an undefined tensor";
      throw std::invalid_argument(owner + ": " + kind + " '" + spec.name + "' should be " + spec.shape.str() +
                                  ", got " + got);
    }
  }
}

Tensor Layers::conv(const std::string& name, const Tensor& x, Conv2dOptions options) const {
  return conv2d(x, lookup(params, name + ".weight", owner, "parameter"), Tensor(), options);
}

Tensor Layers::batch_norm(const std::string& name, const Tensor& x, bool then_relu) const {
  return (then_relu ? taper::batch_norm_relu : taper::batch_norm)(
      x, lookup(params, name + ".weight", owner, "parameter"), lookup(params, name + ".bias", owner, "parameter"),
      lookup(buffers, name + ".running_mean", owner, "buffer"), lookup(buffers, name + ".running_var", owner, "buffer"),
      training, kBatchNormMomentum, kBatchNormEps);
}

Tensor Layers::conv_bn(const std::string& conv_name, const std::string& bn_name, const Tensor& x,
                       Conv2dOptions options, bool then_relu) const {
  return batch_norm(bn_name, conv(conv_name, x, options), then_relu);
}

Tensor Layers::linear(const std::string& name, const Tensor& x) const {
  return taper::linear(x, lookup(params, name + ".weight", owner, "parameter"),
                       lookup(params, name + ".bias", owner, "parameter"));
}

}  // namespace taper

// Functional layers: a network lists its tensors as TensorSpecs (name, shape,
// how to initialise) and runs by looking them up by name in maps it does not
// own. The same architecture then runs on any weights: freshly initialised,
// loaded from a file, or mixed from TAPER's bases per task (equation 1).
//
// Naming follows PyTorch modules: a conv "c" owns c.weight (no bias); a batch
// norm "b" owns the parameters b.weight, b.bias and the buffers
// b.running_mean, b.running_var; a linear "l" owns l.weight [out, in], l.bias.
// PyTorch's BatchNorm also keeps b.num_batches_tracked, which only matters
// for momentum=None; we do not keep it (it is not a parameter, so parameter
// counts are unaffected, and loaders may ignore it).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "engine/rng.h"
#include "engine/tensor.h"

namespace taper {

using TensorMap = std::map<std::string, Tensor>;

// How a tensor is initialised (PyTorch's torchvision ResNet conventions).
enum class InitKind { KaimingFanOut, Ones, Zeros, LinearWeight, LinearBias };

struct TensorSpec {
  std::string name;  // "conv1.weight", "layer1.0.bn2.running_var", "fc.bias", ...
  Shape shape;
  InitKind init;
  int stage;  // ResNet: 0 = stem, 1..S = layer1..layerS, S + 1 = classifier (fc)
  // LinearWeight / LinearBias draw uniform(+-1 / sqrt(fan_in)), nn.Linear's
  // default; a bias cannot infer fan_in from its own shape.
  int64_t fan_in = 0;
};

// Collects a network's tensors in declaration order (PyTorch's state-dict order).
struct SpecList {
  std::vector<TensorSpec> params, buffers;

  void conv(const std::string& name, int64_t out, int64_t in, int64_t kernel, int stage);
  void batch_norm(const std::string& name, int64_t channels, int stage);
  void linear(const std::string& name, int64_t out, int64_t in, int stage);
};

// Fresh tensors for specs, drawing from gen in list order (no requires_grad).
TensorMap init_tensors(const std::vector<TensorSpec>& specs, Generator& gen);

// Throws std::invalid_argument "<owner>: missing <kind> 'name'" or naming both
// shapes when a spec's tensor is absent or mis-shaped. Extra entries are fine.
void check_tensors(const std::vector<TensorSpec>& specs, const TensorMap& tensors, const std::string& owner,
                   const std::string& kind);

// Runs layers on named tensors; batch norm updates `buffers` in training.
struct Layers {
  const TensorMap& params;
  TensorMap& buffers;
  bool training;
  std::string owner;  // names the network in errors

  Tensor conv(const std::string& name, const Tensor& x, Conv2dOptions options) const;
  // then_relu: relu(batch_norm(x)) in one pass (batch_norm_relu).
  Tensor batch_norm(const std::string& name, const Tensor& x, bool then_relu) const;
  Tensor conv_bn(const std::string& conv_name, const std::string& bn_name, const Tensor& x, Conv2dOptions options,
                 bool then_relu) const;
  Tensor linear(const std::string& name, const Tensor& x) const;
};

}  // namespace taper

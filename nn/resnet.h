// The ResNet family (He et al. 2016) with torchvision's parameter names.
//
// Networks are *functional*: a ResNet object holds the architecture only,
// and forward() takes the parameters as a name -> tensor map. TAPER needs
// exactly this: its personalized weights are computed per task (equation 1)
// and then run through the same architecture as a plain network's weights.
//
//   CIFAR family    resnet8 / resnet20 / resnet56: 3 stages of BasicBlocks,
//                   widths 16-32-64 (x width multiplier), depth 6n + 2
//   ImageNet family resnet18 / 34 (BasicBlock), 50 / 101 / 152 (Bottleneck),
//                   4 stages, widths 64-128-256-512 (x width multiplier)
//   stems           "cifar": conv3x3 stride 1, no max pool;
//                   "imagenet": conv7x7 stride 2 + max pool 3x3 stride 2
// Shortcuts change shape with a 1x1 convolution + batch norm ("downsample"),
// torchvision's choice. He et al.'s CIFAR networks used option A instead
// (identity with zero-padded channels, no parameters), so our CIFAR ResNets
// carry two small extra convolutions: resnet20 has 272,474 parameters at 10
// classes against option A's 269,722.
//
// TensorMap, TensorSpec and InitKind come from nn/layers.h.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/rng.h"
#include "engine/tensor.h"
#include "nn/layers.h"

namespace taper {

struct ResNetConfig {
  std::string arch = "resnet18";  // resnet8, resnet20, resnet56, resnet18, resnet34, resnet50, resnet101, resnet152
  std::string stem = "cifar";     // "cifar" or "imagenet"
  double width = 1.0;             // channels = max(1, int(base * width)) for every stem and stage
  int64_t num_classes = 1000;
};

class ResNet {
 public:
  // Throws std::invalid_argument on an unknown arch or stem, a CIFAR-family
  // arch with the imagenet stem, width <= 0 or num_classes < 1.
  explicit ResNet(ResNetConfig config);

  const ResNetConfig& config() const { return config_; }
  int num_stages() const;                              // 3 (CIFAR family) or 4
  const std::vector<TensorSpec>& parameters() const;  // learnable, in torchvision order
  const std::vector<TensorSpec>& buffers() const;     // BN running_mean / running_var
  int64_t parameter_count() const;
  // Multiply-adds of one image's forward pass at height x width through the
  // convolutions and the classifier, torchvision's count (batch norm, ReLU,
  // pooling and the additions left out): resnet18 at 224 x 224 is 1.81 G.
  int64_t multiply_adds(int64_t height, int64_t width) const;

  TensorMap init_parameters(Generator& gen) const;  // requires_grad set
  TensorMap init_buffers() const;                   // means 0, variances 1

  // Logits [N, num_classes] for images [N, 3, H, W]. In training, batch norm
  // uses batch statistics and updates `buffers` in place. Throws
  // std::invalid_argument on other image shapes and on missing or mis-shaped
  // parameters or buffers (naming them); extra map entries are ignored.
  Tensor forward(const TensorMap& params, TensorMap& buffers, const Tensor& images, bool training) const;
  // The pooled features before the classifier, [N, feature_dim].
  Tensor features(const TensorMap& params, TensorMap& buffers, const Tensor& images, bool training) const;
  int64_t feature_dim() const;

 private:
  // A convolution and the batch norm after it: what features() runs and
  // multiply_adds() counts, named once when the constructor declares them.
  struct ConvBn {
    std::string conv, bn;  // "layer2.0.conv1", "layer2.0.bn1"
    int64_t kernel, weights;  // KH = KW, Cout * Cin * KH * KW
    Conv2dOptions options;
  };
  // torchvision's BasicBlock / Bottleneck: `path`, with a ReLU after each
  // convolution but the last, added to the input or to its `downsample`.
  struct Block {
    std::vector<ConvBn> path;
    std::optional<ConvBn> downsample;
  };
  static ConvBn declare_conv_bn(SpecList& specs, const std::string& conv, const std::string& bn, int64_t out,
                                int64_t in, int64_t kernel, Conv2dOptions options, int stage);
  int64_t add_block(SpecList& specs, const std::string& prefix, int64_t in, int64_t planes, int stride, int stage);
  Tensor run_block(const Layers& layers, const Block& block, const Tensor& x) const;

  ResNetConfig config_;
  bool bottleneck_ = false;
  int num_stages_ = 0;
  int64_t feature_dim_ = 0;
  ConvBn stem_;
  std::vector<Block> blocks_;
  std::vector<TensorSpec> params_, buffers_;
};

}  // namespace taper

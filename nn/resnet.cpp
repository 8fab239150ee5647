#include "nn/resnet.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "engine/ops.h"

namespace taper {

namespace {

struct Arch {
  const char* name;
  bool cifar;       // 3 stages from 16 channels, cifar stem only; else 4 stages from 64
  bool bottleneck;  // Bottleneck blocks (expansion 4) instead of BasicBlocks
  std::vector<int> blocks;  // per stage
};

const std::vector<Arch>& archs() {
  static const std::vector<Arch> table = {
      {"resnet8", true, false, {1, 1, 1}},     {"resnet20", true, false, {3, 3, 3}},
      {"resnet56", true, false, {9, 9, 9}},    {"resnet18", false, false, {2, 2, 2, 2}},
      {"resnet34", false, false, {3, 4, 6, 3}}, {"resnet50", false, true, {3, 4, 6, 3}},
      {"resnet101", false, true, {3, 4, 23, 3}}, {"resnet152", false, true, {3, 8, 36, 3}},
  };
  return table;
}

constexpr int64_t kMaxChannels = int64_t{1} << 16;

[[noreturn]] void reject(const std::string& message) { throw std::invalid_argument("ResNet: " + message); }

const Arch& find_arch(const ResNetConfig& c) {
  std::string known;
  for (const Arch& a : archs()) {
    if (c.arch == a.name) return a;
    known += (known.empty() ? "" : ", ") + std::string(a.name);
  }
  reject("unknown arch '" + c.arch + "' (expected one of " + known + ")");
}

// The stem's and first stage's channels at width 1; stage s has base << s.
int64_t base_channels(const Arch& arch) { return arch.cifar ? 16 : 64; }

void validate(const ResNetConfig& c, const Arch& arch) {
  if (c.stem != "cifar" && c.stem != "imagenet") reject("unknown stem '" + c.stem + "' (expected cifar or imagenet)");
  if (arch.cifar && c.stem != "cifar")
    reject(c.arch + " is a CIFAR-family network and needs stem 'cifar', got '" + c.stem + "'");
  if (!(c.width > 0.0) || !std::isfinite(c.width)) reject("width must be a positive finite number, got " + std::to_string(c.width));
  // The widest stage's channels must fit the integers they become (fuzz_config
  // found a width of 1e86, whose conversion is undefined behaviour).
  const double widest = static_cast<double>(base_channels(arch) << (arch.blocks.size() - 1)) * c.width;
  if (widest > kMaxChannels) {
    reject("width " + std::to_string(c.width) + " gives " + std::to_string(widest) + " channels in " + c.arch +
           "'s widest stage, more than " + std::to_string(kMaxChannels));
  }
  if (c.num_classes < 1) reject("num_classes must be at least 1, got " + std::to_string(c.num_classes));
}

// Python's max(1, int(base * width)), as torchvision-style width scaling does.
int64_t scaled(int64_t base, double width) {
  return std::max<int64_t>(1, static_cast<int64_t>(base * width));
}

// The stem, which features() runs and multiply_adds() counts: torchvision's
// 7x7 stride-2 conv and 3x3 stride-2 max pool, or the CIFAR 3x3 conv alone.
int64_t stem_kernel(bool imagenet) { return imagenet ? 7 : 3; }
Conv2dOptions stem_conv(bool imagenet) { return imagenet ? Conv2dOptions{2, 3} : Conv2dOptions{1, 1}; }
constexpr int kStemPoolKernel = 3, kStemPoolStride = 2, kStemPoolPadding = 1;

}  // namespace

ResNet::ResNet(ResNetConfig config) : config_(std::move(config)) {
  const Arch& arch = find_arch(config_);
  validate(config_, arch);
  bottleneck_ = arch.bottleneck;
  num_stages_ = static_cast<int>(arch.blocks.size());
  const int64_t base = base_channels(arch);
  SpecList specs;
  int64_t channels = scaled(base, config_.width);
  specs.conv("conv1", channels, 3, stem_kernel(config_.stem == "imagenet"), 0);
  specs.batch_norm("bn1", channels, 0);
  for (int s = 0; s < num_stages_; ++s) {
    for (int b = 0; b < arch.blocks[s]; ++b) {
      const std::string prefix = "layer" + std::to_string(s + 1) + "." + std::to_string(b);
      const int stride = s > 0 && b == 0 ? 2 : 1;
      channels = add_block(specs, prefix, channels, scaled(base << s, config_.width), stride, s + 1);
    }
  }
  feature_dim_ = channels;
  specs.linear("fc", config_.num_classes, feature_dim_, num_stages_ + 1);
  params_ = std::move(specs.params);
  buffers_ = std::move(specs.buffers);
}

// Declares one block's tensors in torchvision's order; returns its output channels.
int64_t ResNet::add_block(SpecList& specs, const std::string& prefix, int64_t in, int64_t planes, int stride,
                          int stage) {
  const int64_t out = bottleneck_ ? 4 * planes : planes;
  if (bottleneck_) {
    specs.conv(prefix + ".conv1", planes, in, 1, stage);
    specs.batch_norm(prefix + ".bn1", planes, stage);
    specs.conv(prefix + ".conv2", planes, planes, 3, stage);
    specs.batch_norm(prefix + ".bn2", planes, stage);
    specs.conv(prefix + ".conv3", out, planes, 1, stage);
    specs.batch_norm(prefix + ".bn3", out, stage);
  } else {
    specs.conv(prefix + ".conv1", planes, in, 3, stage);
    specs.batch_norm(prefix + ".bn1", planes, stage);
    specs.conv(prefix + ".conv2", planes, planes, 3, stage);
    specs.batch_norm(prefix + ".bn2", planes, stage);
  }
  const bool downsample = stride != 1 || in != out;
  if (downsample) {
    specs.conv(prefix + ".downsample.0", out, in, 1, stage);
    specs.batch_norm(prefix + ".downsample.1", out, stage);
  }
  blocks_.push_back({prefix, stride, downsample});
  return out;
}

int ResNet::num_stages() const { return num_stages_; }
const std::vector<TensorSpec>& ResNet::parameters() const { return params_; }
const std::vector<TensorSpec>& ResNet::buffers() const { return buffers_; }
int64_t ResNet::feature_dim() const { return feature_dim_; }

int64_t ResNet::parameter_count() const {
  int64_t count = 0;
  for (const TensorSpec& spec : params_) count += spec.shape.numel();
  return count;
}

int64_t ResNet::multiply_adds(int64_t height, int64_t width) const {
  auto weights = [&](const std::string& name) {  // multiply-adds per output pixel
    for (const TensorSpec& spec : params_)
      if (spec.name == name) return spec.shape.numel();
    throw std::logic_error("ResNet has no parameter " + name);
  };
  auto out = [](int64_t in, int64_t kernel, int64_t stride, int64_t pad) { return (in + 2 * pad - kernel) / stride + 1; };
  const bool imagenet = config_.stem == "imagenet";
  const Conv2dOptions stem = stem_conv(imagenet);
  const int64_t k = stem_kernel(imagenet);
  int64_t h = out(height, k, stem.stride, stem.padding), w = out(width, k, stem.stride, stem.padding);
  int64_t macs = weights("conv1.weight") * h * w;
  if (imagenet) {
    h = out(h, kStemPoolKernel, kStemPoolStride, kStemPoolPadding);
    w = out(w, kStemPoolKernel, kStemPoolStride, kStemPoolPadding);
  }
  for (const Block& block : blocks_) {
    const std::string& p = block.prefix;
    const int64_t ho = out(h, 3, block.stride, 1), wo = out(w, 3, block.stride, 1);  // 1x1, pad 0 alike
    if (bottleneck_)
      macs += weights(p + ".conv1.weight") * h * w + (weights(p + ".conv2.weight") + weights(p + ".conv3.weight")) * ho * wo;
    else
      macs += (weights(p + ".conv1.weight") + weights(p + ".conv2.weight")) * ho * wo;
    if (block.downsample) macs += weights(p + ".downsample.0.weight") * ho * wo;
    h = ho, w = wo;
  }
  return macs + weights("fc.weight");
}

TensorMap ResNet::init_parameters(Generator& gen) const {
  TensorMap params = init_tensors(params_, gen);
  for (auto& [name, p] : params) p.set_requires_grad(true);
  return params;
}

TensorMap ResNet::init_buffers() const {
  Generator unused(0);  // buffers are constants: nothing is drawn
  return init_tensors(buffers_, unused);
}

// torchvision's BasicBlock / Bottleneck (v1.5: the stride on the 3x3 conv).
Tensor ResNet::run_block(const Layers& layers, const Block& block, const Tensor& x) const {
  const std::string& p = block.prefix;
  Tensor h;
  if (bottleneck_) {
    h = relu(layers.conv_bn(p + ".conv1", p + ".bn1", x, {1, 0}));
    h = relu(layers.conv_bn(p + ".conv2", p + ".bn2", h, {block.stride, 1}));
    h = layers.conv_bn(p + ".conv3", p + ".bn3", h, {1, 0});
  } else {
    h = relu(layers.conv_bn(p + ".conv1", p + ".bn1", x, {block.stride, 1}));
    h = layers.conv_bn(p + ".conv2", p + ".bn2", h, {1, 1});
  }
  const Tensor shortcut =
      block.downsample ? layers.conv_bn(p + ".downsample.0", p + ".downsample.1", x, {block.stride, 0}) : x;
  return relu(add(h, shortcut));
}

Tensor ResNet::features(const TensorMap& params, TensorMap& buffers, const Tensor& images, bool training) const {
  if (images.ndim() != 4 || images.size(1) != 3)
    reject("expected images [N, 3, H, W], got " + images.shape().str());
  // Up front, so that a wrong file fails before any compute, naming the tensor.
  check_tensors(params_, params, "ResNet", "parameter");
  check_tensors(buffers_, buffers, "ResNet", "buffer");
  const Layers layers{params, buffers, training, "ResNet"};
  const bool imagenet = config_.stem == "imagenet";
  Tensor h = relu(layers.conv_bn("conv1", "bn1", images, stem_conv(imagenet)));
  if (imagenet) h = max_pool2d(h, kStemPoolKernel, kStemPoolStride, kStemPoolPadding);
  for (const Block& block : blocks_) h = run_block(layers, block, h);
  return global_avg_pool(h);
}

Tensor ResNet::forward(const TensorMap& params, TensorMap& buffers, const Tensor& images, bool training) const {
  const Tensor pooled = features(params, buffers, images, training);
  return Layers{params, buffers, training, "ResNet"}.linear("fc", pooled);
}

}  // namespace taper

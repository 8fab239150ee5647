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

// The imagenet stem's 3x3 stride-2 max pool, which features() runs and
// multiply_adds() steps over.
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
  // torchvision's 7x7 stride-2 conv (then the max pool), or the CIFAR 3x3 conv alone.
  const bool imagenet = config_.stem == "imagenet";
  stem_ = declare_conv_bn(specs, "conv1", "bn1", channels, 3, imagenet ? 7 : 3,
                          imagenet ? Conv2dOptions{2, 3} : Conv2dOptions{1, 1}, 0);
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

ResNet::ConvBn ResNet::declare_conv_bn(SpecList& specs, const std::string& conv, const std::string& bn, int64_t out,
                                       int64_t in, int64_t kernel, Conv2dOptions options, int stage) {
  specs.conv(conv, out, in, kernel, stage);
  specs.batch_norm(bn, out, stage);
  return {conv, bn, kernel, out * in * kernel * kernel, options};
}

// Declares one block's tensors in torchvision's order (v1.5: the stride on
// the 3x3 conv); returns its output channels.
int64_t ResNet::add_block(SpecList& specs, const std::string& prefix, int64_t in, int64_t planes, int stride,
                          int stage) {
  const int64_t out = bottleneck_ ? 4 * planes : planes;
  auto conv_bn = [&](const std::string& conv, const std::string& bn, int64_t c_out, int64_t c_in, int64_t kernel,
                     Conv2dOptions options) {
    return declare_conv_bn(specs, prefix + "." + conv, prefix + "." + bn, c_out, c_in, kernel, options, stage);
  };
  Block block;
  if (bottleneck_) {  // braces run left to right: the tensors keep torchvision's order
    block.path = {conv_bn("conv1", "bn1", planes, in, 1, {1, 0}),
                  conv_bn("conv2", "bn2", planes, planes, 3, {stride, 1}),
                  conv_bn("conv3", "bn3", out, planes, 1, {1, 0})};
  } else {
    block.path = {conv_bn("conv1", "bn1", planes, in, 3, {stride, 1}),
                  conv_bn("conv2", "bn2", planes, planes, 3, {1, 1})};
  }
  if (stride != 1 || in != out) block.downsample = conv_bn("downsample.0", "downsample.1", out, in, 1, {stride, 0});
  blocks_.push_back(std::move(block));
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
  struct Extent {
    int64_t h, w;
  };
  // Moves `at` from a window's input size to its output size.
  auto slide = [](Extent& at, int64_t kernel, int64_t stride, int64_t padding) {
    at = {window_output(at.h, kernel, stride, padding), window_output(at.w, kernel, stride, padding)};
  };
  auto conv = [&](const ConvBn& c, Extent& at) {  // its multiply-adds
    slide(at, c.kernel, c.options.stride, c.options.padding);
    return c.weights * at.h * at.w;
  };
  Extent at{height, width};
  int64_t macs = conv(stem_, at);
  if (config_.stem == "imagenet") slide(at, kStemPoolKernel, kStemPoolStride, kStemPoolPadding);
  for (const Block& block : blocks_) {
    Extent shortcut = at;
    for (const ConvBn& c : block.path) macs += conv(c, at);
    if (block.downsample) macs += conv(*block.downsample, shortcut);
  }
  return macs + config_.num_classes * feature_dim_;  // the classifier
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

Tensor ResNet::run_block(const Layers& layers, const Block& block, const Tensor& x) const {
  auto run = [&](const ConvBn& c, const Tensor& in, bool then_relu) {
    return layers.conv_bn(c.conv, c.bn, in, c.options, then_relu);
  };
  Tensor h = x;
  for (size_t i = 0; i < block.path.size(); ++i) h = run(block.path[i], h, i + 1 < block.path.size());
  return add_relu(h, block.downsample ? run(*block.downsample, x, false) : x);
}

Tensor ResNet::features(const TensorMap& params, TensorMap& buffers, const Tensor& images, bool training) const {
  if (images.ndim() != 4 || images.size(1) != 3)
    reject("expected images [N, 3, H, W], got " + images.shape().str());
  // Up front, so that a wrong file fails before any compute, naming the tensor.
  check_tensors(params_, params, "ResNet", "parameter");
  check_tensors(buffers_, buffers, "ResNet", "buffer");
  const Layers layers{params, buffers, training, "ResNet"};
  Tensor h = layers.conv_bn(stem_.conv, stem_.bn, images, stem_.options, true);
  if (config_.stem == "imagenet") h = max_pool2d(h, kStemPoolKernel, kStemPoolStride, kStemPoolPadding);
  for (const Block& block : blocks_) h = run_block(layers, block, h);
  return global_avg_pool(h);
}

Tensor ResNet::forward(const TensorMap& params, TensorMap& buffers, const Tensor& images, bool training) const {
  const Tensor pooled = features(params, buffers, images, training);
  return Layers{params, buffers, training, "ResNet"}.linear("fc", pooled);
}

}  // namespace taper

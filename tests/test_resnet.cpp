// The ResNet family (nn/resnet.h): torchvision's parameter counts, names,
// order and shapes; forward shapes, gradients and batch-norm buffers; input
// and weight validation; initialisation; and logits, gradients and running
// statistics against PyTorch (tests/reference/make_resnet_fixture.py).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "tests/reference_fixture.h"
#include "engine/autograd.h"
#include "engine/init.h"
#include "engine/ops.h"
#include "engine/safetensors.h"
#include "nn/resnet.h"

using namespace taper;
using taper::testing::reference_file;
using taper::testing::reference_tensor;
using taper::testing::relative_error;

namespace {

std::optional<TensorSpec> find_spec(const ResNet& net, const std::string& name) {
  for (const auto* list : {&net.parameters(), &net.buffers()})
    for (const TensorSpec& s : *list)
      if (s.name == name) return s;
  return std::nullopt;
}

TensorSpec spec(const ResNet& net, const std::string& name) {
  const std::optional<TensorSpec> found = find_spec(net, name);
  REQUIRE_MESSAGE(found.has_value(), "no tensor " << name);
  return *found;
}

bool has(const ResNet& net, const std::string& name) { return find_spec(net, name).has_value(); }

Tensor images(std::vector<int64_t> shape, uint64_t seed) {
  Tensor x = Tensor::empty(Shape(shape));
  Generator(seed).normal(x);
  return x;
}

}  // namespace

TEST_CASE("resnet: parameter counts match torchvision at 1000 classes") {
  const std::vector<std::pair<std::string, int64_t>> published = {
      {"resnet18", 11689512}, {"resnet34", 21797672}, {"resnet50", 25557032},
      {"resnet101", 44549160}, {"resnet152", 60192808}};
  for (const auto& [arch, count] : published) {
    CAPTURE(arch);
    CHECK(ResNet({arch, "imagenet", 1.0, 1000}).parameter_count() == count);
  }
  // The stem changes only conv1: 3x3 instead of 7x7 kernels (64 * 3 * 40 fewer).
  CHECK(ResNet({"resnet18", "cifar", 1.0, 1000}).parameter_count() == 11689512 - 64 * 3 * 40);
}

TEST_CASE("resnet: multiply-adds match torchvision's GFLOPS at 224 x 224 and a hand count on CIFAR") {
  // torchvision's model pages give these to two decimals (its "GFLOPS" count
  // multiply-adds of the convolutions and the classifier).
  const std::vector<std::pair<std::string, double>> published = {
      {"resnet18", 1.81}, {"resnet34", 3.66}, {"resnet50", 4.09}, {"resnet101", 7.80}, {"resnet152", 11.51}};
  for (const auto& [arch, giga] : published) {
    CAPTURE(arch);
    CHECK(ResNet({arch, "imagenet", 1.0, 1000}).multiply_adds(224, 224) * 1e-9 == doctest::Approx(giga).epsilon(0.003));
  }
  // resnet8 at 32 x 32, 100 classes: stem 3*16*9*32*32; layer1 2*16*16*9*32*32;
  // layer2 (16*32*9 + 32*32*9 + 16*32 shortcut)*16*16; layer3 (32*64*9 +
  // 64*64*9 + 32*64)*8*8; fc 64*100.
  const ResNet net({"resnet8", "cifar", 1.0, 100});
  const int64_t convs = 442368 + 4718592 + 3670016 + 3670016;
  CHECK(net.multiply_adds(32, 32) == convs + 6400);
  CHECK(net.multiply_adds(64, 64) == 4 * convs + 6400);  // PACS at 64 px
  CHECK(net.multiply_adds(32, 16) == convs / 2 + 6400);
}

TEST_CASE("resnet: CIFAR resnet20 has projection shortcuts") {
  // He et al.'s option A (zero-padded identity shortcuts) gives resnet20
  // 269,722 parameters at 10 classes. We use torchvision's 1x1 conv + BN
  // projections where shapes change (layer2.0, layer3.0), which adds
  // 16*32 + 2*32 + 32*64 + 2*64 = 2,752.
  const ResNet net({"resnet20", "cifar", 1.0, 10});
  CHECK(net.parameter_count() == 269722 + 2752);
  CHECK(net.parameter_count() == 272474);
  CHECK(spec(net, "layer2.0.downsample.0.weight").shape == Shape{32, 16, 1, 1});
  CHECK_FALSE(has(net, "layer1.0.downsample.0.weight"));
  CHECK_FALSE(has(net, "layer2.1.downsample.0.weight"));
  CHECK(net.num_stages() == 3);
  CHECK(net.feature_dim() == 64);
}

TEST_CASE("resnet: names, shapes, order and stages follow torchvision") {
  const ResNet r18({"resnet18", "imagenet", 1.0, 1000});
  const auto& p = r18.parameters();
  CHECK(p.front().name == "conv1.weight");
  CHECK(p.front().shape == Shape{64, 3, 7, 7});
  CHECK(p[1].name == "bn1.weight");
  CHECK(p[2].name == "bn1.bias");
  CHECK(p[3].name == "layer1.0.conv1.weight");
  CHECK(p[p.size() - 2].name == "fc.weight");
  CHECK(p.back().name == "fc.bias");
  CHECK(spec(r18, "layer2.0.downsample.0.weight").shape == Shape{128, 64, 1, 1});
  CHECK(spec(r18, "layer2.0.downsample.1.running_var").shape == Shape{128});
  CHECK(spec(r18, "fc.weight").shape == Shape{1000, 512});
  CHECK_FALSE(has(r18, "layer1.0.downsample.0.weight"));
  CHECK(r18.buffers().front().name == "bn1.running_mean");
  CHECK(r18.buffers()[1].name == "bn1.running_var");
  CHECK(r18.buffers().size() == 2 * 20);  // 20 batch norms: stem, 16 in blocks, 3 downsamples
  CHECK(spec(r18, "conv1.weight").stage == 0);
  CHECK(spec(r18, "bn1.running_mean").stage == 0);
  CHECK(spec(r18, "layer1.1.bn2.weight").stage == 1);
  CHECK(spec(r18, "layer4.0.downsample.1.bias").stage == 4);
  CHECK(spec(r18, "fc.bias").stage == 5);

  const ResNet r50({"resnet50", "imagenet", 1.0, 1000});
  CHECK(spec(r50, "layer1.0.conv1.weight").shape == Shape{64, 64, 1, 1});
  CHECK(spec(r50, "layer1.0.conv3.weight").shape == Shape{256, 64, 1, 1});
  CHECK(spec(r50, "layer1.0.downsample.0.weight").shape == Shape{256, 64, 1, 1});
  CHECK(spec(r50, "layer2.0.conv1.weight").shape == Shape{128, 256, 1, 1});
  CHECK(spec(r50, "layer2.0.conv2.weight").shape == Shape{128, 128, 3, 3});
  CHECK(spec(r50, "layer4.2.bn3.running_mean").shape == Shape{2048});
  CHECK(spec(r50, "fc.weight").shape == Shape{1000, 2048});
  CHECK(r50.feature_dim() == 2048);
  CHECK(has(r50, "layer3.5.conv3.weight"));
  CHECK_FALSE(has(r50, "layer3.6.conv1.weight"));
  CHECK(spec(ResNet({"resnet8", "cifar", 1.0, 10}), "fc.weight").stage == 4);
}

TEST_CASE("resnet: width multiplier rounds channels down with a floor of 1") {
  const ResNet net({"resnet20", "cifar", 0.3, 7});  // 16, 32, 64 * 0.3 = 4.8, 9.6, 19.2
  CHECK(spec(net, "conv1.weight").shape == Shape{4, 3, 3, 3});
  CHECK(spec(net, "layer2.0.conv1.weight").shape == Shape{9, 4, 3, 3});
  CHECK(spec(net, "layer3.2.conv2.weight").shape == Shape{19, 19, 3, 3});
  CHECK(spec(net, "fc.weight").shape == Shape{7, 19});
  const ResNet thin({"resnet50", "imagenet", 0.01, 3});  // 0.64 .. 5.12
  CHECK(spec(thin, "conv1.weight").shape == Shape{1, 3, 7, 7});
  CHECK(spec(thin, "layer4.0.conv2.weight").shape == Shape{5, 5, 3, 3});
  CHECK(thin.feature_dim() == 20);
}

TEST_CASE("resnet: bad configurations are rejected") {
  CHECK_THROWS_WITH_AS(ResNet({"resnet20", "imagenet", 1.0, 10}), doctest::Contains("needs stem 'cifar'"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ResNet({"resnet19", "cifar", 1.0, 10}), doctest::Contains("unknown arch 'resnet19'"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ResNet({"resnet18", "tiny", 1.0, 10}), doctest::Contains("unknown stem 'tiny'"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ResNet({"resnet18", "cifar", 0.0, 10}), doctest::Contains("width"), std::invalid_argument);
  // fuzz/corpus/config/crash-huge-width.toml: int64_t(64 * 6.7e85) was undefined behaviour.
  CHECK_THROWS_WITH_AS(ResNet({"resnet8", "cifar", 6.7e85, 10}), doctest::Contains("more than 65536"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ResNet({"resnet18", "cifar", 129.0, 10}), doctest::Contains("66048.000000 channels"),
                       std::invalid_argument);
  CHECK_NOTHROW(ResNet({"resnet18", "cifar", 128.0, 10}));
  CHECK_THROWS_WITH_AS(ResNet({"resnet18", "cifar", 1.0, 0}), doctest::Contains("num_classes"),
                       std::invalid_argument);
}

TEST_CASE("resnet: forward shapes for small inputs") {
  struct Case {
    ResNetConfig config;
    std::vector<int64_t> input;
    int64_t features;
  };
  const std::vector<Case> cases = {
      {{"resnet8", "cifar", 0.5, 10}, {2, 3, 16, 16}, 32},
      {{"resnet20", "cifar", 0.25, 4}, {1, 3, 8, 8}, 16},
      {{"resnet18", "imagenet", 0.125, 7}, {2, 3, 32, 32}, 64},
      {{"resnet18", "cifar", 0.0625, 3}, {2, 3, 8, 8}, 32},
      {{"resnet50", "cifar", 0.0625, 5}, {2, 3, 8, 8}, 128},
  };
  for (const Case& c : cases) {
    CAPTURE(c.config.arch);
    const ResNet net(c.config);
    Generator gen(1);
    const TensorMap params = net.init_parameters(gen);
    TensorMap buffers = net.init_buffers();
    const Tensor x = images(c.input, 2);
    CHECK(net.forward(params, buffers, x, true).shape() == Shape{c.input[0], c.config.num_classes});
    CHECK(net.features(params, buffers, x, false).shape() == Shape{c.input[0], c.features});
    CHECK(net.feature_dim() == c.features);
  }
}

TEST_CASE("resnet: gradients reach every parameter") {
  for (const ResNetConfig& config :
       {ResNetConfig{"resnet8", "cifar", 0.5, 10}, ResNetConfig{"resnet50", "imagenet", 0.0625, 5}}) {
    CAPTURE(config.arch);
    const ResNet net(config);
    Generator gen(3);
    const TensorMap params = net.init_parameters(gen);
    TensorMap buffers = net.init_buffers();
    Tensor logits = net.forward(params, buffers, images({2, 3, 16, 16}, 4), true);
    Tensor ones = Tensor::full(logits.shape(), 1.0f);
    logits.backward(ones);  // the gradient of the sum of the logits
    for (const TensorSpec& s : net.parameters()) {
      CAPTURE(s.name);
      const Tensor g = params.at(s.name).grad();
      REQUIRE(g.defined());
      CHECK(g.shape() == s.shape);
      const std::vector<float> v = g.to_vector();
      CHECK(std::all_of(v.begin(), v.end(), [](float f) { return std::isfinite(f); }));
    }
  }
}

TEST_CASE("resnet: training mode updates the running statistics, evaluation does not") {
  const ResNet net({"resnet8", "cifar", 0.5, 10});
  Generator gen(5);
  const TensorMap params = net.init_parameters(gen);
  TensorMap buffers = net.init_buffers();
  const TensorMap initial = net.init_buffers();
  const Tensor x = images({4, 3, 8, 8}, 6);
  {
    NoGradGuard no_grad;
    net.forward(params, buffers, x, false);
  }
  for (const TensorSpec& s : net.buffers()) {
    CAPTURE(s.name);
    CHECK(buffers.at(s.name).to_vector() == initial.at(s.name).to_vector());
  }
  net.forward(params, buffers, x, true);
  for (const TensorSpec& s : net.buffers()) {
    CAPTURE(s.name);
    CHECK(buffers.at(s.name).to_vector() != initial.at(s.name).to_vector());
  }
}

TEST_CASE("resnet: bad images and missing or mis-shaped weights are rejected by name") {
  const ResNet net({"resnet8", "cifar", 0.25, 10});
  Generator gen(7);
  TensorMap params = net.init_parameters(gen);
  TensorMap buffers = net.init_buffers();
  CHECK_THROWS_WITH_AS(net.forward(params, buffers, images({2, 1, 8, 8}, 0), true),
                       doctest::Contains("ResNet: expected images [N, 3, H, W], got [2, 1, 8, 8]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(net.forward(params, buffers, images({3, 8, 8}, 0), true), doctest::Contains("[3, 8, 8]"),
                       std::invalid_argument);
  TensorMap missing = params;
  missing.erase("layer2.0.downsample.0.weight");
  CHECK_THROWS_WITH_AS(net.forward(missing, buffers, images({2, 3, 8, 8}, 0), true),
                       doctest::Contains("missing parameter 'layer2.0.downsample.0.weight'"), std::invalid_argument);
  TensorMap no_stats = buffers;
  no_stats.erase("layer3.0.bn2.running_var");
  CHECK_THROWS_WITH_AS(net.forward(params, no_stats, images({2, 3, 8, 8}, 0), true),
                       doctest::Contains("missing buffer 'layer3.0.bn2.running_var'"), std::invalid_argument);
  params["fc.weight"] = Tensor::zeros({9, 16});
  CHECK_THROWS_WITH_AS(net.forward(params, buffers, images({2, 3, 8, 8}, 0), true),
                       doctest::Contains("'fc.weight' should be [10, 16], got [9, 16]"), std::invalid_argument);
}

TEST_CASE("resnet: initialisation follows torchvision, drawn in parameters() order") {
  const ResNet net({"resnet18", "imagenet", 1.0, 1000});
  Generator gen(11);
  const TensorMap params = net.init_parameters(gen);
  CHECK(params.size() == net.parameters().size());
  CHECK(params.at("layer1.0.bn1.weight").to_vector() == std::vector<float>(64, 1.0f));
  CHECK(params.at("layer1.0.bn1.bias").to_vector() == std::vector<float>(64, 0.0f));
  CHECK(params.at("conv1.weight").requires_grad());

  // kaiming_normal fan_out: std sqrt(2 / (512 * 9)) for layer4's 3x3 convs.
  const std::vector<float> w = params.at("layer4.1.conv2.weight").to_vector();
  double sq = 0.0;
  for (float v : w) sq += double(v) * v;
  CHECK(std::sqrt(sq / w.size()) == doctest::Approx(std::sqrt(2.0 / (512 * 9))).epsilon(0.01));

  // nn.Linear's default: uniform(+-1/sqrt(512)) for weight and bias.
  for (const char* name : {"fc.weight", "fc.bias"}) {
    const std::vector<float> v = params.at(name).to_vector();
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    CHECK(*lo >= -1.0f / std::sqrt(512.0f));
    CHECK(*hi <= 1.0f / std::sqrt(512.0f));
    CHECK(*hi - *lo > 1.9f / std::sqrt(512.0f));
  }

  // Batch-norm parameters draw nothing, so the second random draw is layer1.0.conv1.
  Generator replay(11);
  Tensor first = Tensor::empty({64, 3, 7, 7}), second = Tensor::empty({64, 64, 3, 3});
  kaiming_normal(first, replay, FanMode::FanOut);
  kaiming_normal(second, replay, FanMode::FanOut);
  CHECK(params.at("conv1.weight").to_vector() == first.to_vector());
  CHECK(params.at("layer1.0.conv1.weight").to_vector() == second.to_vector());

  Generator again(11);
  CHECK(net.init_parameters(again).at("fc.weight").to_vector() == params.at("fc.weight").to_vector());
  const TensorMap buffers = net.init_buffers();
  CHECK(buffers.at("layer3.1.bn1.running_mean").to_vector() == std::vector<float>(256, 0.0f));
  CHECK(buffers.at("layer3.1.bn1.running_var").to_vector() == std::vector<float>(256, 1.0f));
}

namespace {

const SafetensorsFile& resnet_fixture() { return reference_file("resnet_fixture.safetensors"); }

Tensor fixture_tensor(const std::string& name) { return reference_tensor("resnet_fixture.safetensors", name); }

// The fixture's tensors under prefix ("cifar.params."), keys without it.
TensorMap fixture_group(const std::string& prefix) {
  TensorMap group;
  for (const auto& [name, t] : resnet_fixture().tensors)
    if (name.rfind(prefix, 0) == 0) group[name.substr(prefix.size())] = t.clone();
  return group;
}

std::vector<std::string> names_of(const std::vector<TensorSpec>& specs) {
  std::vector<std::string> names;
  for (const TensorSpec& s : specs) names.push_back(s.name);
  return names;
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) parts.push_back(part);
  return parts;
}

const ResNetConfig& fixture_config(const std::string& c) {
  static const ResNetConfig cifar{"resnet8", "cifar", 0.25, 10}, imagenet{"resnet50", "imagenet", 1.0 / 64, 5};
  return c == "cifar" ? cifar : imagenet;
}

// One pass of case c in `mode` ("train" / "eval") from the fixture's tensors:
// logits, loss, every parameter's gradient and the running stats (updated in
// training, untouched in evaluation).
void check_pass(const std::string& c, const std::string& mode) {
  const ResNet net(fixture_config(c));
  TensorMap params = fixture_group(c + ".params.");
  for (auto& [name, p] : params) p.set_requires_grad(true);
  TensorMap buffers = fixture_group(c + ".buffers.");
  const std::string r = c + "." + mode + ".";
  const Tensor logits = net.forward(params, buffers, fixture_tensor(c + ".x"), mode == "train");
  CHECK(relative_error(logits, fixture_tensor(r + "logits")) <= 1e-4);
  const Tensor loss = cross_entropy(logits, fixture_tensor(c + ".labels"));
  CHECK(relative_error(loss, fixture_tensor(r + "loss")) <= 1e-4);
  loss.backward();
  for (const TensorSpec& s : net.parameters()) {
    CAPTURE(s.name);
    CHECK(relative_error(params.at(s.name).grad(), fixture_tensor(r + "grad." + s.name)) <= 1e-4);
  }
  for (const TensorSpec& s : net.buffers()) {
    CAPTURE(s.name);
    const Tensor want = mode == "train" ? fixture_tensor(r + "buffers_after." + s.name)
                                        : fixture_tensor(c + ".buffers." + s.name);
    CHECK(relative_error(buffers.at(s.name), want) <= 1e-4);
  }
}

// The hand-built PyTorch mirror of torchvision has our names in our order.
void check_names(const std::string& c) {
  const ResNet net(fixture_config(c));
  CHECK(names_of(net.parameters()) == split_commas(resnet_fixture().metadata.at(c + ".param_order")));
  CHECK(fixture_group(c + ".params.").size() == net.parameters().size());
  CHECK(fixture_group(c + ".buffers.").size() == net.buffers().size());
}

}  // namespace

TEST_CASE("resnet: CIFAR resnet8 matches PyTorch in training and evaluation") {
  check_names("cifar");
  check_pass("cifar", "train");
  check_pass("cifar", "eval");
}

// Evaluation mode only: with 1-channel layers and a few values per batch
// statistic, training mode is too ill-conditioned in float32 for 1e-4
// (PyTorch's own float32 result is off by ~1e-3; see make_resnet_fixture.py).
// Batch norm's training mode is covered by the resnet8 case.
TEST_CASE("resnet: ImageNet-stem Bottleneck resnet50 matches PyTorch in evaluation") {
  check_names("imagenet");
  check_pass("imagenet", "eval");
}

// TAPER itself (issue 4, item 7): the mixing math of equation (1) and its
// gradients, BatchNorm statistics of mixed networks, the mixer predictor,
// classifier selection, personalized model files (bit-exact logits, corrupt
// files rejected), config errors that surface before training, and a tiny
// end-to-end run through every stage, personalize and predict on real
// CIFAR-100 (skipped with a message when the data is absent).
//
// Resume equivalence of `taper train` runs as a subprocess: tests/test_resume.cpp.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "tests/temp_dir.h"
#include "data/augment.h"
#include "data/catalog.h"
#include "data/dataset.h"
#include "data/image.h"
#include "engine/atomic_file.h"
#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/safetensors.h"
#include "nn/resnet.h"
#include "taper/basis_mixing.h"
#include "taper/classifier_selection.h"
#include "taper/mixer_analysis.h"
#include "taper/self_improvement.h"
#include "taper/svg_figure.h"
#include "taper/config.h"
#include "taper/evaluation_cache.h"
#include "taper/experiment.h"
#include "taper/mixer_predictor.h"
#include "taper/personalize.h"
#include "taper/reproduce.h"
#include "taper/result_tables.h"
#include "taper/run_ledger.h"
#include "taper/pipeline.h"
#include "taper/stage_runner.h"
#include "taper/stages.h"
#include "tests/gradcheck.h"

using namespace taper;
using taper::testing::gradcheck;
using taper::testing::randn;
namespace fs = std::filesystem;

namespace {

using taper::testing::TempDir;

// True when CIFAR-100 is reachable through data_root(). Tests run from the
// repository root; when ./data lacks it but the repository's data folder or
// ../shared/data holds it, $TAPER_DATA is pointed there (absolute).
bool have_cifar100() {
  if (fs::is_directory(data_root() + "/cifar-100-binary")) return true;
  if (const char* env = std::getenv("TAPER_DATA"); env != nullptr && env[0] != '\0') return false;
  for (const std::string& root : {std::string(TAPER_SOURCE_DIR) + "/data", std::string(TAPER_SOURCE_DIR) + "/../shared/data"}) {
    if (fs::is_directory(root + "/cifar-100-binary")) {
      ::setenv("TAPER_DATA", fs::canonical(root).c_str(), 1);
      return true;
    }
  }
  return false;
}

#define SKIP_WITHOUT_CIFAR100()                                                                  \
  if (!have_cifar100()) {                                                                        \
    MESSAGE("skipped: no cifar-100-binary under $TAPER_DATA, ./data or ../shared/data (make data)"); \
    return;                                                                                      \
  }

std::string config_path(const std::string& name) { return std::string(TAPER_SOURCE_DIR) + "/tests/configs/" + name; }

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && std::memcmp(a.data_ptr(), b.data_ptr(), a.nbytes()) == 0;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  double m = 0.0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::fabs(double(a.f32()[i]) - double(b.f32()[i])));
  return m;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

ResNet tiny_resnet(const std::string& arch = "resnet8", int64_t classes = 5) {
  ResNetConfig c;
  c.arch = arch;
  c.width = 0.25;
  c.num_classes = classes;
  if (arch == "resnet18") c.width = 0.125;
  return ResNet(c);
}

// Q independently initialised bases with distinct, non-trivial running statistics.
Bases make_bases(const ResNet& net, int64_t q_count, uint64_t seed) {
  Bases bases;
  for (int64_t q = 0; q < q_count; ++q) {
    Generator gen(seed + q);
    bases.params.push_back(net.init_parameters(gen));
    TensorMap buffers = net.init_buffers();
    Generator bgen(seed + 100 + q);
    for (auto& [name, t] : buffers) {
      if (contains(name, "running_mean")) {
        bgen.normal(t, 0.0f, 0.1f);
      } else {
        bgen.uniform(t, 0.5f, 1.5f);
      }
    }
    bases.buffers.push_back(buffers);
  }
  return bases;
}

std::vector<Tensor> constant_alpha(const MixerLayout& layout, const std::vector<float>& alpha) {
  std::vector<Tensor> out;
  for (int b = 0; b < layout.num_blocks; ++b) out.push_back(Tensor::from_vector(alpha, {int64_t(alpha.size())}));
  return out;
}

TensorMap clone_map(const TensorMap& m) {
  TensorMap out;
  for (const auto& [n, t] : m) out[n] = t.clone();
  return out;
}

}  // namespace

// ---------------------------------------------------------------- layouts

TEST_CASE("taper: mixer layout assigns ResNet stages to blocks") {
  struct Case {
    std::string arch, mixers, stem, classifier;
    int blocks;
    std::vector<int> block_of_stage;  // stem, layer1..layerS, fc
  };
  const std::vector<Case> cases = {
      {"resnet8", "block", "first-stage", "last-stage", 3, {0, 0, 1, 2, 2}},
      {"resnet8", "block", "own", "last-stage", 4, {0, 1, 2, 3, 3}},
      {"resnet8", "block", "first-stage", "own", 4, {0, 0, 1, 2, 3}},
      {"resnet8", "block", "own", "own", 5, {0, 1, 2, 3, 4}},
      {"resnet8", "single", "own", "own", 1, {0, 0, 0, 0, 0}},
      {"resnet18", "block", "first-stage", "last-stage", 4, {0, 0, 1, 2, 3, 3}},
      {"resnet18", "block", "own", "last-stage", 5, {0, 1, 2, 3, 4, 4}},
      {"resnet18", "block", "first-stage", "own", 5, {0, 0, 1, 2, 3, 4}},
      {"resnet18", "block", "own", "own", 6, {0, 1, 2, 3, 4, 5}},
      {"resnet18", "single", "first-stage", "last-stage", 1, {0, 0, 0, 0, 0, 0}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.arch);
    CAPTURE(c.mixers);
    CAPTURE(c.stem);
    CAPTURE(c.classifier);
    const ResNet net = tiny_resnet(c.arch);
    const MixerLayout layout = make_mixer_layout(net, c.mixers, c.stem, c.classifier);
    CHECK(layout.num_blocks == c.blocks);
    CHECK(layout.block_of_stage == c.block_of_stage);
    // Through the tensors' own stage tags: the stem conv, a layer-2 conv, the classifier.
    std::map<std::string, int> block;
    for (const TensorSpec& s : net.parameters()) block[s.name] = layout.block_of(s);
    for (const TensorSpec& s : net.buffers()) block[s.name] = layout.block_of(s);
    CHECK(block.at("conv1.weight") == c.block_of_stage[0]);
    CHECK(block.at("bn1.running_var") == c.block_of_stage[0]);
    CHECK(block.at("layer1.0.conv1.weight") == c.block_of_stage[1]);
    CHECK(block.at("layer2.0.downsample.0.weight") == c.block_of_stage[2]);
    CHECK(block.at("fc.weight") == c.block_of_stage.back());
    CHECK(block.at("fc.bias") == c.block_of_stage.back());
    // Every block is used by some tensor.
    std::set<int> used;
    for (const auto& [n, b] : block) used.insert(b);
    CHECK(static_cast<int>(used.size()) == c.blocks);
  }
  CHECK_THROWS_AS(make_mixer_layout(tiny_resnet(), "triple", "own", "own"), std::invalid_argument);
}

// ---------------------------------------------------------------- equation (1)

TEST_CASE("taper: mix_parameters with one-hot mixers reproduces a basis exactly") {
  const ResNet net = tiny_resnet();
  const MixerLayout layout = make_mixer_layout(net, "block", "own", "own");
  const Bases bases = make_bases(net, 3, 11);
  for (int64_t q = 0; q < 3; ++q) {
    CAPTURE(q);
    std::vector<float> one_hot(3, 0.0f);
    one_hot[q] = 1.0f;
    const TensorMap mixed = mix_parameters(net, layout, bases, constant_alpha(layout, one_hot));
    REQUIRE(mixed.size() == net.parameters().size());
    for (const TensorSpec& s : net.parameters()) {
      CAPTURE(s.name);
      CHECK(same_bits(mixed.at(s.name), bases.params[q].at(s.name)));
    }
  }
  // A different basis per block: each tensor comes from its block's basis.
  std::vector<Tensor> alpha;
  for (int b = 0; b < layout.num_blocks; ++b) {
    std::vector<float> one_hot(3, 0.0f);
    one_hot[b % 3] = 1.0f;
    alpha.push_back(Tensor::from_vector(one_hot, {3}));
  }
  const TensorMap mixed = mix_parameters(net, layout, bases, alpha);
  for (const TensorSpec& s : net.parameters()) {
    CAPTURE(s.name);
    CHECK(same_bits(mixed.at(s.name), bases.params[layout.block_of(s) % 3].at(s.name)));
  }
  // One mixer per block is required.
  alpha.pop_back();
  CHECK_THROWS_AS(mix_parameters(net, layout, bases, alpha), std::invalid_argument);
}

TEST_CASE("taper: mix_parameters computes the convex combination of the bases") {
  const ResNet net = tiny_resnet();
  const MixerLayout layout = make_mixer_layout(net, "block", "first-stage", "last-stage");
  const Bases bases = make_bases(net, 2, 21);
  // Different mixers per block, so that a block mix-up shows.
  const std::vector<std::vector<float>> mixers = {{0.25f, 0.75f}, {0.5f, 0.5f}, {0.9f, 0.1f}};
  std::vector<Tensor> alpha;
  for (const auto& m : mixers) alpha.push_back(Tensor::from_vector(m, {2}));
  const TensorMap mixed = mix_parameters(net, layout, bases, alpha);
  for (const TensorSpec& s : net.parameters()) {
    CAPTURE(s.name);
    const auto& a = mixers[layout.block_of(s)];
    const float* v0 = bases.params[0].at(s.name).f32();
    const float* v1 = bases.params[1].at(s.name).f32();
    const float* got = mixed.at(s.name).f32();
    double worst = 0.0;
    for (int64_t i = 0; i < s.shape.numel(); ++i) {
      const double want = double(a[0]) * v0[i] + double(a[1]) * v1[i];
      const double tol = 1e-6 * (std::fabs(v0[i]) + std::fabs(v1[i])) + 1e-7;
      worst = std::max(worst, std::fabs(got[i] - want) / tol);
    }
    CHECK(worst <= 1.0);
  }
}

TEST_CASE("taper: gradients of a mixed ResNet reach every basis and every mixer") {
  const ResNet net = tiny_resnet();
  const MixerLayout layout = make_mixer_layout(net, "block", "own", "own");
  Bases bases = make_bases(net, 2, 31);
  std::vector<Tensor> alpha;
  for (int b = 0; b < layout.num_blocks; ++b) {
    alpha.push_back(Tensor::from_vector({0.3f + 0.1f * b, 0.7f - 0.1f * b}, {2}).set_requires_grad(true));
  }
  TensorMap buffers = mix_buffers(net, layout, bases, alpha);
  const Tensor images = randn({4, 3, 16, 16}, 32);
  const Tensor labels = Tensor::from_labels({0, 3, 1, 4});
  Tensor loss = cross_entropy(net.forward(mix_parameters(net, layout, bases, alpha), buffers, images, true), labels);
  loss.backward();
  auto nonzero = [](const Tensor& g) {
    if (!g.defined()) return false;
    for (float v : g.to_vector()) {
      if (!std::isfinite(v)) return false;
    }
    for (float v : g.to_vector()) {
      if (v != 0.0f) return true;
    }
    return false;
  };
  for (int b = 0; b < layout.num_blocks; ++b) {
    CAPTURE(b);
    CHECK(nonzero(alpha[b].grad()));
  }
  for (int64_t q = 0; q < 2; ++q) {
    for (const TensorSpec& s : net.parameters()) {
      CAPTURE(q);
      CAPTURE(s.name);
      CHECK(nonzero(bases.params[q].at(s.name).grad()));
    }
  }
}

// Stage 3's step takes its task groups' gradients to the bases and mixers in
// one pass a parameter (mix_parameter_leaves, backward_mixing,
// backward_into_mixers): the same gradients as autograd through each group's
// mix_parameters.
TEST_CASE("taper: the deferred mixing backward of several task groups gives autograd's gradients") {
  const ResNet net = tiny_resnet("resnet8", 4);
  const MixerLayout layout = make_mixer_layout(net, "block", "own", "own");
  Bases bases = make_bases(net, 3, 51);
  const int groups = 3;
  std::vector<std::vector<Tensor>> logits(groups);
  for (int g = 0; g < groups; ++g)
    for (int b = 0; b < layout.num_blocks; ++b)
      logits[g].push_back(randn({1, 3}, 60 + 10 * g + b, 0.5f).set_requires_grad(true));
  auto gradients = [&](bool deferred) {
    std::vector<std::vector<Tensor>> alphas(groups);
    std::vector<TensorMap> mixed;
    Tensor total;
    for (int g = 0; g < groups; ++g) {
      for (const Tensor& l : logits[g]) alphas[g].push_back(reshape(softmax(l), {3}));
      mixed.push_back(deferred ? mix_parameter_leaves(net, layout, bases, alphas[g])
                               : mix_parameters(net, layout, bases, alphas[g]));
      TensorMap buffers = clone_map(bases.buffers[0]);
      const Tensor y = net.forward(mixed.back(), buffers, randn({2, 3, 8, 8}, 70 + g), true);
      const Tensor loss = cross_entropy(y, Tensor::from_labels({g, 3 - g}));
      total = total.defined() ? add(total, loss) : loss;
    }
    total.backward();
    if (deferred) backward_into_mixers(alphas, backward_mixing(net, layout, bases, alphas, mixed));
    std::vector<std::vector<float>> out;
    for (TensorMap& p : bases.params) {
      for (auto& [name, t] : p) {
        out.push_back(t.grad().to_vector());
        t.zero_grad();
      }
    }
    for (auto& group : logits) {
      for (Tensor& l : group) {
        out.push_back(l.grad().to_vector());
        l.zero_grad();
      }
    }
    return out;
  };
  const auto want = gradients(false), got = gradients(true);
  REQUIRE(got.size() == want.size());
  double worst = 0.0;
  for (size_t i = 0; i < want.size(); ++i) {
    REQUIRE(got[i].size() == want[i].size());
    for (size_t j = 0; j < want[i].size(); ++j)
      worst = std::max(worst, std::fabs(got[i][j] - want[i][j]) / (1e-6 + 1e-4 * std::fabs(want[i][j])));
  }
  CHECK(worst <= 1.0);
}

TEST_CASE("taper: finite differences agree with d(loss)/d(mixer logits) through a whole mixed ResNet") {
  const ResNet net = tiny_resnet("resnet8", 4);
  for (const bool training : {false, true}) {
    for (const char* stem : {"first-stage", "own"}) {
      CAPTURE(training);
      CAPTURE(std::string(stem));
      const MixerLayout layout = make_mixer_layout(net, "block", stem, std::string(stem) == "own" ? "own" : "last-stage");
      const Bases bases = make_bases(net, 3, 41);
      const Tensor images = randn({2, 3, 8, 8}, 42);
      auto f = [&](const std::vector<Tensor>& logits) {
        std::vector<Tensor> alpha;
        for (const Tensor& l : logits) alpha.push_back(reshape(softmax(l), {3}));
        // Fresh running statistics each call, independent of alpha (mixed
        // statistics carry no gradient by design): the check must see one function.
        TensorMap buffers = clone_map(bases.buffers[0]);
        return net.forward(mix_parameters(net, layout, bases, alpha), buffers, images, training);
      };
      std::vector<Tensor> logits;
      for (int b = 0; b < layout.num_blocks; ++b) logits.push_back(randn({1, 3}, 43 + b, 0.5f));
      // Batch statistics of two 8x8 images make the training-mode function
      // strongly curved: its central differences approach the analytic
      // gradient only below eps ~ 1e-3 (measured: the gap shrinks with eps).
      taper::testing::GradcheckOptions o;
      o.eps = training ? 3e-4f : 1e-3f;
      CHECK(gradcheck(f, logits, o) == "");
    }
  }
}

// ---------------------------------------------------------------- running statistics

TEST_CASE("taper: mixed BatchNorm statistics and their updates follow the mixers") {
  const ResNet net = tiny_resnet();
  const MixerLayout layout = make_mixer_layout(net, "block", "first-stage", "last-stage");
  const Tensor images = randn({4, 3, 8, 8}, 51, 2.0f);

  SUBCASE("one-hot: only that basis's statistics move") {
    Bases bases = make_bases(net, 2, 52);
    const TensorMap old0 = clone_map(bases.buffers[0]), old1 = clone_map(bases.buffers[1]);
    const std::vector<Tensor> alpha = constant_alpha(layout, {0.0f, 1.0f});
    const TensorMap before = mix_buffers(net, layout, bases, alpha);
    for (const TensorSpec& s : net.buffers()) CHECK(same_bits(before.at(s.name), old1.at(s.name)));
    TensorMap after = clone_map(before);
    {
      NoGradGuard no_grad;
      net.forward(mix_parameters(net, layout, bases, alpha), after, images, true);
    }
    distribute_buffer_updates(net, layout, before, after, alpha, bases);
    for (const TensorSpec& s : net.buffers()) {
      CAPTURE(s.name);
      CHECK_FALSE(same_bits(after.at(s.name), before.at(s.name)));   // the forward did move them
      CHECK(same_bits(bases.buffers[0].at(s.name), old0.at(s.name)));  // basis 0 untouched
      CHECK(max_abs_diff(bases.buffers[1].at(s.name), after.at(s.name)) <= 1e-5);
    }
  }

  SUBCASE("the change splits by alpha") {
    Bases bases = make_bases(net, 2, 53);
    const TensorMap old0 = clone_map(bases.buffers[0]), old1 = clone_map(bases.buffers[1]);
    const std::vector<std::vector<float>> mixers = {{0.25f, 0.75f}, {0.6f, 0.4f}, {0.1f, 0.9f}};
    std::vector<Tensor> alpha;
    for (const auto& m : mixers) alpha.push_back(Tensor::from_vector(m, {2}));
    const TensorMap before = mix_buffers(net, layout, bases, alpha);
    TensorMap after = clone_map(before);
    {
      NoGradGuard no_grad;
      net.forward(mix_parameters(net, layout, bases, alpha), after, images, true);
    }
    distribute_buffer_updates(net, layout, before, after, alpha, bases);
    for (const TensorSpec& s : net.buffers()) {
      CAPTURE(s.name);
      const auto& a = mixers[layout.block_of(s)];
      // The mixed statistics before the update are the mix of the bases' statistics.
      for (int64_t i = 0; i < s.shape.numel(); ++i) {
        const double want = a[0] * old0.at(s.name).f32()[i] + a[1] * old1.at(s.name).f32()[i];
        REQUIRE(std::fabs(before.at(s.name).f32()[i] - want) <= 1e-5);
      }
      double worst = 0.0;
      for (int64_t i = 0; i < s.shape.numel(); ++i) {
        const double delta = double(after.at(s.name).f32()[i]) - before.at(s.name).f32()[i];
        const double d0 = double(bases.buffers[0].at(s.name).f32()[i]) - old0.at(s.name).f32()[i];
        const double d1 = double(bases.buffers[1].at(s.name).f32()[i]) - old1.at(s.name).f32()[i];
        worst = std::max({worst, std::fabs(d0 - a[0] * delta), std::fabs(d1 - a[1] * delta)});
      }
      CHECK(worst <= 1e-5);
    }
  }
}

// ---------------------------------------------------------------- mixer predictor

TEST_CASE("taper: mixer predictor shapes, softmax per block, determinism in evaluation") {
  const int64_t dim = 10, hidden = 8, blocks = 3, q = 4, groups = 5;
  const MixerPredictor pred(dim, hidden, blocks, q);
  Generator gen(61);
  const TensorMap params = pred.init_parameters(gen);
  TensorMap buffers = pred.init_buffers();
  CHECK(params.size() == 4 * 2 + 3 * 2);
  CHECK(buffers.size() == 3 * 2);
  CHECK(params.at("layers.0.weight").shape() == Shape{hidden, dim});
  CHECK(params.at("layers.3.weight").shape() == Shape{blocks * q, hidden});
  for (const auto& [n, t] : params) CHECK(t.requires_grad());

  Tensor desc = Tensor::zeros({groups, dim});
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t c = g; c < g + 3; ++c) desc.f32()[g * dim + c % dim] = 1.0f;  // BoW of 3 classes
  }
  CHECK(pred.logits(params, buffers, desc, false).shape() == Shape{groups, blocks * q});

  const TensorMap buffers_before = clone_map(buffers);
  const auto a = pred.mixers(params, buffers, desc, false);
  const auto b = pred.mixers(params, buffers, desc, false);
  REQUIRE(a.size() == size_t(groups));
  for (int64_t g = 0; g < groups; ++g) {
    REQUIRE(a[g].size() == size_t(blocks));
    for (int64_t k = 0; k < blocks; ++k) {
      CHECK(a[g][k].shape() == Shape{q});
      double sum = 0.0;
      for (float v : a[g][k].to_vector()) {
        CHECK(v > 0.0f);
        sum += v;
      }
      CHECK(sum == doctest::Approx(1.0).epsilon(1e-6));
      CHECK(same_bits(a[g][k], b[g][k]));  // evaluation is deterministic
    }
  }
  for (const auto& [n, t] : buffers) CHECK(same_bits(t, buffers_before.at(n)));  // and leaves the statistics alone

  // Different tasks get different mixers.
  CHECK_FALSE(same_bits(a[0][0], a[1][0]));
  // Training updates the running statistics; G = 1 cannot be trained (batch norm).
  pred.mixers(params, buffers, desc, true);
  CHECK_FALSE(same_bits(buffers.at("norms.0.running_mean"), buffers_before.at("norms.0.running_mean")));
  CHECK_THROWS_AS(pred.mixers(params, buffers, slice_rows(desc, 0, 1), true), std::invalid_argument);
  CHECK_NOTHROW(pred.mixers(params, buffers, slice_rows(desc, 0, 1), false));
  CHECK_THROWS_AS(pred.logits(params, buffers, Tensor::zeros({2, dim + 1}), false), std::invalid_argument);
  CHECK_THROWS_AS(MixerPredictor(dim, hidden, 0, q), std::invalid_argument);
}

TEST_CASE("taper: finite differences agree with the mixer predictor's gradients") {
  const MixerPredictor pred(6, 5, 2, 3);
  Generator gen(71);
  const TensorMap params = pred.init_parameters(gen);
  const TensorMap buffers = pred.init_buffers();
  const Tensor desc = randn({4, 6}, 72);
  for (const bool training : {false, true}) {
    CAPTURE(training);
    auto f = [&](const std::vector<Tensor>& in) {
      TensorMap p = params, b = clone_map(buffers);
      p["layers.0.weight"] = in[0];
      p["layers.3.weight"] = in[1];
      p["norms.1.weight"] = in[2];
      const auto alpha = pred.mixers(p, b, desc, training);
      return add(alpha[1][0], alpha[3][1]);
    };
    taper::testing::GradcheckOptions o;
    o.eps = 1e-3f;
    CHECK(gradcheck(f, {params.at("layers.0.weight").clone(), params.at("layers.3.weight").clone(),
                        params.at("norms.1.weight").clone()}, o) == "");
  }
}

// ---------------------------------------------------------------- classifier selection

TEST_CASE("taper: selected cross-entropy is cross-entropy over the task's columns") {
  const int64_t n = 4, c = 7;
  const std::vector<std::vector<int64_t>> tasks = {{0, 2, 5}, {1, 3}, {2, 4, 5, 6}, {0, 6}};
  const std::vector<int64_t> labels = {5, 1, 4, 6};
  Tensor logits = randn({n, c}, 81, 3.0f).set_requires_grad(true);
  Tensor selected = selected_cross_entropy(logits, Tensor::from_labels(labels), tasks);
  double want = 0.0;
  for (int64_t r = 0; r < n; ++r) {
    const int64_t remapped = std::find(tasks[r].begin(), tasks[r].end(), labels[r]) - tasks[r].begin();
    const Tensor row = gather_columns(slice_rows(logits.detach(), r, r + 1), Tensor::from_labels(tasks[r]));
    want += cross_entropy(row, Tensor::from_labels({remapped})).item() / n;
  }
  CHECK(selected.item() == doctest::Approx(want).epsilon(1e-6));
  // A batch sharing one task: gather_columns of the whole batch.
  const std::vector<int64_t> task = {1, 3, 4};
  const Tensor shared = selected_cross_entropy(logits.detach(), Tensor::from_labels({3, 1, 4, 4}),
                                               std::vector<std::vector<int64_t>>(n, task));
  const Tensor gathered = cross_entropy(gather_columns(logits.detach(), Tensor::from_labels(task)),
                                        Tensor::from_labels({1, 0, 2, 2}));
  CHECK(shared.item() == doctest::Approx(gathered.item()).epsilon(1e-6));
  // No gradient flows to the classes outside a row's task.
  selected.backward();
  const Tensor g = logits.grad();
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t k = 0; k < c; ++k) {
      const bool in_task = std::find(tasks[r].begin(), tasks[r].end(), k) != tasks[r].end();
      CAPTURE(r);
      CAPTURE(k);
      if (in_task) {
        CHECK(g.f32()[r * c + k] != 0.0f);
      } else {
        CHECK(g.f32()[r * c + k] == 0.0f);
      }
    }
  }
  CHECK_THROWS_AS(selected_cross_entropy(logits, Tensor::from_labels(labels), {{0}}), std::invalid_argument);
  CHECK_THROWS_AS(task_mask({{0, 9}}, 7), std::invalid_argument);
}

TEST_CASE("taper: predict restricts the arg-max to the task; select_classifier_rows keeps its rows") {
  const std::vector<float> row = {0.1f, 5.0f, -1.0f, 2.0f, 2.5f, 0.0f};
  CHECK(predict(row.data(), 6, {}) == 1);
  CHECK(predict(row.data(), 6, {0, 2, 3}) == 3);
  CHECK(predict(row.data(), 6, {2, 4, 5}) == 4);
  CHECK(predict(row.data(), 6, {2}) == 2);

  const Tensor w = randn({6, 4}, 91), b = randn({6}, 92);
  TensorMap params{{"fc.weight", w}, {"fc.bias", b}, {"conv1.weight", randn({2, 3, 3, 3}, 93)}};
  const Tensor conv = params.at("conv1.weight");
  const std::vector<int64_t> task = {4, 0, 3};  // task order, not sorted
  select_classifier_rows(params, task);
  REQUIRE(params.at("fc.weight").shape() == Shape{3, 4});
  REQUIRE(params.at("fc.bias").shape() == Shape{3});
  for (size_t i = 0; i < task.size(); ++i) {
    for (int64_t f = 0; f < 4; ++f) CHECK(params.at("fc.weight").f32()[i * 4 + f] == w.f32()[task[i] * 4 + f]);
    CHECK(params.at("fc.bias").f32()[i] == b.f32()[task[i]]);
  }
  CHECK(params.at("conv1.weight").same(conv));
  // The condensed classifier's logits are the task's columns of the full one's.
  const Tensor x = randn({5, 4}, 94);
  const Tensor full = linear(x, w, b), condensed = linear(x, params.at("fc.weight"), params.at("fc.bias"));
  CHECK(max_abs_diff(condensed, gather_columns(full, Tensor::from_labels(task))) <= 1e-5);
  TensorMap bad{{"fc.weight", w}, {"fc.bias", b}};
  CHECK_THROWS_AS(select_classifier_rows(bad, {6}), std::invalid_argument);
}

// ---------------------------------------------------------------- personalized model files

namespace {

// A personalized model made by hand (no Experiment): mixed random bases,
// the task's classifier rows.
PersonalizedModel handmade_model(const std::vector<int64_t>& task, std::vector<Tensor>* alpha_out = nullptr,
                                 Bases* bases_out = nullptr) {
  const ResNet net = tiny_resnet("resnet8", 6);
  const MixerLayout layout = make_mixer_layout(net, "block", "first-stage", "last-stage");
  Bases bases = make_bases(net, 2, 101);
  std::vector<Tensor> alpha;
  for (int b = 0; b < layout.num_blocks; ++b) alpha.push_back(Tensor::from_vector({0.2f + 0.2f * b, 0.8f - 0.2f * b}, {2}));
  NoGradGuard no_grad;
  PersonalizedModel m;
  m.arch = net.config();
  m.arch.num_classes = static_cast<int64_t>(task.size());
  for (const auto& [n, t] : mix_parameters(net, layout, bases, alpha)) m.params[n] = t.detach();
  m.buffers = mix_buffers(net, layout, bases, alpha);
  select_classifier_rows(m.params, task);
  const std::vector<std::string> names = {"apple", "bear", "cloud", "dolphin", "elephant", "fox"};
  for (int64_t c : task) m.class_names.push_back(names[c]);
  for (const Tensor& a : alpha) m.mixers.push_back(a.to_vector());
  if (alpha_out) *alpha_out = alpha;
  if (bases_out) *bases_out = bases;
  return m;
}

Tensor eval_logits(const PersonalizedModel& m, const Tensor& images) {
  NoGradGuard no_grad;
  TensorMap buffers = m.buffers;
  return ResNet(m.arch).forward(m.params, buffers, images, false);
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("taper: a saved personalized model reproduces the in-memory mixed network's logits bit for bit") {
  TempDir dir;
  const std::vector<int64_t> task = {5, 1, 3};
  std::vector<Tensor> alpha;
  Bases bases;
  const PersonalizedModel m = handmade_model(task, &alpha, &bases);
  save_personalized(dir / "m.safetensors", m);
  const PersonalizedModel loaded = load_personalized(dir / "m.safetensors");
  CHECK(loaded.arch.arch == "resnet8");
  CHECK(loaded.arch.stem == "cifar");
  CHECK(loaded.arch.width == m.arch.width);
  CHECK(loaded.arch.num_classes == 3);
  CHECK(loaded.class_names == std::vector<std::string>{"fox", "bear", "dolphin"});
  CHECK(loaded.mixers == m.mixers);
  CHECK(loaded.domain.empty());
  CHECK(ResNet(loaded.arch).parameter_count() == ResNet(m.arch).parameter_count());
  for (const auto& [n, t] : m.params) CHECK(same_bits(loaded.params.at(n), t));
  for (const auto& [n, t] : m.buffers) CHECK(same_bits(loaded.buffers.at(n), t));

  const Tensor images = randn({3, 3, 32, 32}, 102);
  const Tensor from_file = eval_logits(loaded, images);
  CHECK(from_file.shape() == Shape{3, 3});
  CHECK(same_bits(from_file, eval_logits(m, images)));
  // The full 6-class mixed network restricted to the task's columns (up to sgemm rounding).
  const ResNet full_net = tiny_resnet("resnet8", 6);
  const MixerLayout layout = make_mixer_layout(full_net, "block", "first-stage", "last-stage");
  NoGradGuard no_grad;
  TensorMap full_buffers = mix_buffers(full_net, layout, bases, alpha);
  const Tensor full = full_net.forward(mix_parameters(full_net, layout, bases, alpha), full_buffers, images, false);
  CHECK(max_abs_diff(gather_columns(full, Tensor::from_labels(task)), from_file) <= 1e-4);
}

TEST_CASE("taper: corrupt or mismatched personalized model files are rejected naming the file") {
  TempDir dir;
  const PersonalizedModel m = handmade_model({0, 2, 4});
  const std::string good = dir / "good.safetensors";
  save_personalized(good, m);
  const std::string bytes = read_bytes(good);
  const SafetensorsFile file = load_safetensors(good);

  auto rejected = [&](const std::string& path, const std::vector<std::string>& parts) {
    CAPTURE(path);
    std::string message;
    try {
      load_personalized(path);
      message = "(accepted)";
    } catch (const SafetensorsError& e) {
      message = e.what();
    } catch (const std::exception& e) {
      message = std::string("(not a SafetensorsError) ") + e.what();
    }
    CAPTURE(message);
    CHECK(contains(message, path));
    CHECK_FALSE(contains(message, "(accepted)"));
    CHECK_FALSE(contains(message, "(not a SafetensorsError)"));
    for (const auto& part : parts) CHECK(contains(message, part));
  };
  auto variant = [&](const std::string& name, const std::function<void(SafetensorsFile&)>& edit) {
    SafetensorsFile f = file;
    edit(f);
    const std::string path = dir / name;
    save_safetensors(path, f);
    return path;
  };

  SUBCASE("truncated") {
    write_bytes(dir / "truncated.safetensors", bytes.substr(0, bytes.size() - 17));
    rejected(dir / "truncated.safetensors", {});
    write_bytes(dir / "header-only.safetensors", bytes.substr(0, 12));
    rejected(dir / "header-only.safetensors", {});
    write_bytes(dir / "empty.safetensors", "");
    rejected(dir / "empty.safetensors", {});
  }
  SUBCASE("missing or wrong metadata") {
    rejected(variant("no-format.safetensors", [](SafetensorsFile& f) { f.metadata.erase("format"); }), {"format"});
    rejected(variant("checkpoint.safetensors", [](SafetensorsFile& f) { f.metadata["format"] = "taper-checkpoint/1"; }),
             {"taper-checkpoint/1"});
    rejected(variant("no-classes.safetensors", [](SafetensorsFile& f) { f.metadata.erase("classes"); }), {"classes"});
    rejected(variant("bad-classes.safetensors", [](SafetensorsFile& f) { f.metadata["classes"] = "[\"apple\", "; }),
             {"metadata"});
    rejected(variant("bad-mixers.safetensors", [](SafetensorsFile& f) { f.metadata["mixers"] = "{}"; }), {"metadata"});
    rejected(variant("bad-width.safetensors", [](SafetensorsFile& f) { f.metadata["width"] = "wide"; }), {"metadata"});
    rejected(variant("no-arch.safetensors", [](SafetensorsFile& f) { f.metadata.erase("arch"); }), {"arch"});
  }
  SUBCASE("metadata naming an impossible architecture") {
    rejected(variant("bad-arch.safetensors", [](SafetensorsFile& f) { f.metadata["arch"] = "resnet9"; }), {"resnet9"});
    rejected(variant("bad-stem.safetensors", [](SafetensorsFile& f) { f.metadata["stem"] = "imagenet"; }), {});
    // Not = "0": assigning that literal here trips a false -Wrestrict warning in GCC 12.
    rejected(variant("zero-width.safetensors", [](SafetensorsFile& f) { f.metadata["width"] = std::string(1, '0'); }), {});
    rejected(variant("no-class.safetensors", [](SafetensorsFile& f) { f.metadata["classes"] = "[]"; }), {});
  }
  SUBCASE("tensors that do not fit the architecture") {
    // One class more in the metadata than classifier rows.
    rejected(variant("extra-class.safetensors",
                     [](SafetensorsFile& f) { f.metadata["classes"] = "[\"apple\",\"cloud\",\"elephant\",\"fox\"]"; }),
             {"fc.weight"});
    rejected(variant("missing-tensor.safetensors", [](SafetensorsFile& f) { f.tensors.erase("layer2.0.conv1.weight"); }),
             {"layer2.0.conv1.weight", "missing"});
    rejected(variant("missing-buffer.safetensors", [](SafetensorsFile& f) { f.tensors.erase("bn1.running_var"); }),
             {"bn1.running_var"});
    rejected(variant("reshaped.safetensors",
                     [](SafetensorsFile& f) { f.tensors["conv1.weight"] = reshape(f.tensors.at("conv1.weight"), {-1}); }),
             {"conv1.weight"});
    // Wider than the metadata says.
    rejected(variant("wider.safetensors", [](SafetensorsFile& f) { f.metadata["width"] = "0.5"; }), {"conv1.weight"});
    rejected(variant("int-weights.safetensors",
                     [](SafetensorsFile& f) {
                       const Tensor w = f.tensors.at("fc.bias");
                       f.tensors["fc.bias"] = Tensor::zeros(w.shape(), DType::I64);
                     }),
             {"fc.bias"});
  }
  CHECK_THROWS_AS(load_personalized(dir / "absent.safetensors"), SafetensorsError);
}

// ---------------------------------------------------------------- with the real data

TEST_CASE("taper: personalize writes a file whose logits equal mix_parameters + select_classifier_rows in memory") {
  SKIP_WITHOUT_CIFAR100();
  TempDir dir;
  const Experiment exp = Experiment::create(load_config(config_path("tiny_e2e.toml")));
  REQUIRE(exp.num_classes() == 5);
  TaperModel model;
  model.bases = make_bases(exp.arch, exp.config.taper.bases, 111);
  Generator gen(112);
  model.predictor_params = exp.predictor.init_parameters(gen);
  model.predictor_buffers = exp.predictor.init_buffers();
  for (auto& [n, t] : model.predictor_buffers) {
    if (contains(n, "running_mean")) gen.normal(t, 0.0f, 0.2f);
  }
  const TensorMap predictor_buffers_before = clone_map(model.predictor_buffers);
  const Task task{{1, 3, 4}, -1};

  const PersonalizedModel pm = personalize(exp, model, task);
  for (const auto& [n, t] : model.predictor_buffers) CHECK(same_bits(t, predictor_buffers_before.at(n)));
  CHECK(pm.arch.num_classes == 3);
  CHECK(pm.class_names == std::vector<std::string>{exp.train->meta.class_names[1], exp.train->meta.class_names[3],
                                                    exp.train->meta.class_names[4]});
  REQUIRE(static_cast<int>(pm.mixers.size()) == exp.layout.num_blocks);
  for (const auto& row : pm.mixers) {
    REQUIRE(row.size() == 2);
    CHECK(row[0] + row[1] == doctest::Approx(1.0f).epsilon(1e-6));
  }
  save_personalized(dir / "m.safetensors", pm);
  const PersonalizedModel loaded = load_personalized(dir / "m.safetensors");

  // The same thing by hand, in memory.
  NoGradGuard no_grad;
  TensorMap pb = clone_map(model.predictor_buffers);
  const auto alpha = exp.predictor.mixers(model.predictor_params, pb, exp.describe_all({task}), false)[0];
  for (int b = 0; b < exp.layout.num_blocks; ++b) CHECK(alpha[b].to_vector() == pm.mixers[b]);
  TensorMap params = mix_parameters(exp.arch, exp.layout, model.bases, alpha);
  select_classifier_rows(params, task.classes);
  TensorMap buffers = mix_buffers(exp.arch, exp.layout, model.bases, alpha);
  ResNetConfig rc = exp.arch.config();
  rc.num_classes = 3;

  Tensor images = Tensor::empty({6, 3, 32, 32});
  const Transform transform = exp.transform(false);
  for (int64_t i = 0; i < 6; ++i) {
    Generator unused(0);
    transform(exp.test->images->image(i * 3), unused, images.f32() + i * 3 * 32 * 32);
  }
  const Tensor want = ResNet(rc).forward(params, buffers, images, false);
  const Tensor got = eval_logits(loaded, images);
  CHECK(same_bits(got, want));
  CHECK(same_bits(eval_logits(pm, images), want));
}

TEST_CASE("taper: config errors surface before any training") {
  SKIP_WITHOUT_CIFAR100();
  TempDir dir;
  const std::string base = read_bytes(config_path("tiny_e2e.toml"));
  // Appends keys to a table of the tiny config (TOML allows a table once, so replace lines).
  auto with = [&](const std::string& from, const std::string& to) {
    const size_t at = base.find(from);
    REQUIRE(at != std::string::npos);
    return std::string(base).replace(at, from.size(), to);
  };
  auto train_error = [&](const std::string& toml, const std::string& run) {
    std::string message;
    try {
      train_run(parse_config(toml, "bad.toml"), dir / run, false);
      message = "(trained)";
    } catch (const std::exception& e) {
      message = e.what();
    }
    // Nothing was trained: no checkpoint, no log.
    CHECK_FALSE(fs::exists(dir / (run + "/stage1.safetensors")));
    CHECK_FALSE(fs::exists(dir / (run + "/log.jsonl")));
    return message;
  };

  SUBCASE("k above the class count") {
    const std::string m = train_error(with("k = 3", "k = 6"), "k");
    CAPTURE(m);
    CHECK(contains(m, "tasks.k"));
    CHECK(contains(m, "bad.toml"));
    CHECK(contains(m, "5 classes"));
    CHECK_THROWS_AS(Experiment::create(parse_config(with("k = 3", "k = 6"), "bad.toml")), ConfigError);
  }
  SUBCASE("dynamic k above the class count") {
    const std::string m = train_error(with("k = 3", "k_min = 2\nk_max = 9"), "kmax");
    CAPTURE(m);
    CHECK(contains(m, "tasks.k_max"));
  }
  SUBCASE("unknown dataset and unknown keys fail while parsing") {
    CHECK_THROWS_WITH_AS(parse_config(with("\"cifar100\"", "\"cifar10\""), "bad.toml"),
                         doctest::Contains("data.dataset"), ConfigError);
    CHECK_THROWS_WITH_AS(parse_config(with("workers = 1", "worker = 1"), "bad.toml"), doctest::Contains("data.worker"),
                         ConfigError);
    CHECK_THROWS_WITH_AS(parse_config(with("bases = 2", "bases = 0"), "bad.toml"), doctest::Contains("taper.bases"),
                         ConfigError);
  }
  SUBCASE("missing data") {
    const std::string saved = data_root();
    ::setenv("TAPER_DATA", dir.path.c_str(), 1);
    const std::string m = train_error(base, "nodata");
    ::setenv("TAPER_DATA", saved.c_str(), 1);
    CAPTURE(m);
    CHECK(contains(m, "cifar-100-binary"));
    CHECK(contains(m, "make data"));
  }
  // Cross-field checks that need the data but are only made once stage 1
  // has trained: they must fail before it.
  SUBCASE("one task group per batch (the mixer predictor's batch norm needs two)") {
    const std::string m = train_error(with("groups = 2", "groups = 1"), "groups");
    CAPTURE(m);
    CHECK(contains(m, "groups"));
  }
  SUBCASE("more bases than classes to shard") {
    const std::string m = train_error(with("bases = 2", "bases = 6"), "bases");
    CAPTURE(m);
    CHECK(contains(m, "bases"));
  }
  SUBCASE("domain shards on a dataset without domains") {
    const std::string m = train_error(with("groups = 2", "groups = 2\nshards = \"domains\""), "shards");
    CAPTURE(m);
    CHECK(contains(m, "shards"));
  }
}

TEST_CASE("taper: a tiny run through all stages, personalize and predict") {
  SKIP_WITHOUT_CIFAR100();
  TempDir dir;
  const RunConfig config = load_config(config_path("tiny_e2e.toml"));
  const std::string run_dir = dir / "run";
  train_run(config, run_dir, false);

  // Checkpoints, config, log, eval.
  for (const char* f : {"config.toml", "stage1.safetensors", "stage2.shard00.safetensors", "stage2.shard01.safetensors",
                        "stage3.safetensors", "baseline.safetensors", "log.jsonl", "eval.json"}) {
    CAPTURE(f);
    CHECK(fs::is_regular_file(run_dir + "/" + f));
  }
  CHECK(to_toml(load_config(run_dir + "/config.toml")) == to_toml(config));  // the effective config
  std::vector<std::pair<std::string, int64_t>> expected;
  for (int64_t e = 1; e <= config.stage1.epochs; ++e) expected.push_back({"stage1", e});
  for (const char* s : {"stage2.shard00", "stage2.shard01"}) {
    for (int64_t e = 1; e <= config.stage2.epochs; ++e) expected.push_back({s, e});
  }
  for (int64_t e = 1; e <= config.stage3.epochs; ++e) expected.push_back({"stage3", e});
  for (int64_t e = 1; e <= config.baseline.epochs; ++e) expected.push_back({"baseline", e});
  std::vector<std::pair<std::string, int64_t>> logged;
  std::ifstream log(run_dir + "/log.jsonl");
  for (std::string line; std::getline(log, line);) {
    const nlohmann::json j = nlohmann::json::parse(line);
    logged.push_back({j.at("stage").get<std::string>(), j.at("epoch").get<int64_t>()});
    CHECK(std::isfinite(j.at("loss").get<double>()));
    CHECK(j.at("train_accuracy").get<double>() >= 0.0);
    CHECK(j.at("train_accuracy").get<double>() <= 1.0);
    CHECK(j.at("lr").get<double>() >= 0.0);
    CHECK(j.contains("images_per_second"));
    CHECK(j.contains("seconds"));
  }
  CHECK(logged == expected);

  const nlohmann::json eval = nlohmann::json::parse(read_bytes(run_dir + "/eval.json"));
  CHECK(eval.at("test_images").get<int64_t>() == config.data.classes * config.data.test_per_class);
  CHECK(eval.at("eval_seed").get<uint64_t>() == config.tasks.eval_seed);
  for (const char* key : {"stage1_standard", "stage1_classifier_selection", "taper_personalized", "baseline_standard",
                          "baseline_classifier_selection"}) {
    CAPTURE(key);
    REQUIRE(eval.contains(key));
    CHECK(eval.at(key).get<double>() >= 0.0);
    CHECK(eval.at(key).get<double>() <= 1.0);
  }
  // The label is in its task, so a correct arg-max over all classes stays correct within the task.
  CHECK(eval.at("stage1_classifier_selection").get<double>() >= eval.at("stage1_standard").get<double>());
  CHECK(eval.at("baseline_classifier_selection").get<double>() >= eval.at("baseline_standard").get<double>());
  CHECK(eval.at("taper_personalized").get<double>() >= eval.at("taper_without_selection").get<double>());
  // Table 6's extra rows; no fine-tuned average unless configured.
  for (const char* key : {"stage2_classifier_selection", "uniform_average_classifier_selection", "taper_without_selection"}) {
    CAPTURE(key);
    REQUIRE(eval.contains(key));
    CHECK(eval.at(key).get<double>() >= 0.0);
    CHECK(eval.at(key).get<double>() <= 1.0);
  }
  CHECK_FALSE(eval.contains("finetuned_average_classifier_selection"));

  // Reading the run back gives the same evaluation.
  TrainedRun run = load_run(run_dir);
  CHECK(run.stage1.epochs_done == config.stage1.epochs);
  CHECK(run.baseline.epochs_done == config.baseline.epochs);
  CHECK(run.taper.bases.count() == config.taper.bases);
  const EvalSummary again = evaluate_run(run);
  CHECK(again.images == eval.at("test_images").get<int64_t>());
  CHECK(again.stage1.standard.overall() == eval.at("stage1_standard").get<double>());
  CHECK(again.stage1.selection.overall() == eval.at("stage1_classifier_selection").get<double>());
  CHECK(again.baseline.standard.overall() == eval.at("baseline_standard").get<double>());
  CHECK(again.taper.personalized.overall() == eval.at("taper_personalized").get<double>());
  CHECK(again.taper.without_selection.overall() == eval.at("taper_without_selection").get<double>());
  CHECK(again.stage2_selection.overall() == eval.at("stage2_classifier_selection").get<double>());
  // Row (5) pools the bases: the mean of each basis's own accuracy.
  double mean_of_bases = 0.0;
  for (int64_t q = 0; q < run.stage2.count(); ++q) {
    TrainState basis{run.stage2.params[q], run.stage2.buffers[q], {}, 0};
    mean_of_bases += evaluate_standard(run.exp, basis, run.exp.eval_tasks()).selection.overall() / run.stage2.count();
  }
  CHECK(again.stage2_selection.overall() == doctest::Approx(mean_of_bases).epsilon(1e-12));
  // The evaluation cache: the same accuracies, each network evaluated once.
  {
    const auto files_in = [](const fs::path& d) {
      return fs::exists(d) ? std::distance(fs::directory_iterator(d), fs::directory_iterator()) : 0;
    };
    const std::vector<Task> tasks = run.exp.eval_tasks();
    const fs::path one = dir / "cache-one";
    EvaluationCache cache(run.exp, tasks, one);
    const StandardAccuracy fresh = cache.standard(run.stage1);
    REQUIRE(files_in(one) == 1);
    const fs::path file = fs::directory_iterator(one)->path();
    CHECK(fresh.selection.correct == again.stage1.selection.correct);
    // A second call reads the file: what it holds is what comes back.
    nlohmann::json held = nlohmann::json::parse(read_bytes(file));
    held["selection"]["correct"] = 0;
    write_file_atomically(file.string(), held.dump());
    CHECK(cache.standard(run.stage1).selection.correct == 0);
    // Counts that cannot be this test set's are evaluated again, as is an unreadable file.
    held["selection"]["total"] = 7;
    write_file_atomically(file.string(), held.dump());
    CHECK(cache.standard(run.stage1).selection.correct == fresh.selection.correct);
    // An unreadable file is evaluated again and rewritten.
    write_file_atomically(file.string(), "{\"standard\": ");
    CHECK(cache.standard(run.stage1).selection.correct == fresh.selection.correct);
    CHECK(nlohmann::json::parse(read_bytes(file))["selection"]["correct"] == fresh.selection.correct);
    // Other weights, another entry.
    TrainState changed{{}, run.stage1.buffers, {}, 0};
    for (const auto& [n, t] : run.stage1.params) changed.params[n] = t.clone();
    changed.params.begin()->second.f32()[0] += 1.0f;
    cache.standard(changed);
    CHECK(files_in(one) == 2);
    // A whole run's evaluation through the cache: the same numbers, and a
    // second evaluation evaluates no network again. One file per distinct
    // network: stage 1 and the baseline train alike here (the same seed,
    // data and single epoch), then each basis and their average.
    for (const auto& [n, t] : run.stage1.params) CHECK(same_bits(t, run.baseline.params.at(n)));
    const fs::path all = dir / "cache-all";
    const EvalSummary cached = evaluate_run(run, all.string());
    CHECK(files_in(all) == 2 + run.stage2.count());
    const EvalSummary twice = evaluate_run(run, all.string());
    CHECK(files_in(all) == 2 + run.stage2.count());
    CHECK(cached == again);  // every count of every network, per domain too
    CHECK(twice == again);
  }
  // Stage 3 trained copies: the stage-2 bases are still the stage-2 checkpoints.
  {
    Generator gen(0);
    TrainState shard0{run.exp.arch.init_parameters(gen), run.exp.arch.init_buffers(), {}, 0};
    load_state(run_dir + "/stage2.shard00.safetensors", shard0);
    for (const auto& [n, t] : shard0.params) CHECK(same_bits(t, run.stage2.params[0].at(n)));
  }

  // Personalize for a task, save, and predict from the file alone on PNG images.
  const Task task{{0, 2, 4}, -1};
  const PersonalizedModel pm = personalize(run.exp, run.taper, task);
  save_personalized(dir / "model.safetensors", pm);
  const PersonalizedModel model = load_personalized(dir / "model.safetensors");
  CHECK(model.class_names == pm.class_names);
  CHECK(model.class_names[1] == run.exp.train->meta.class_names[2]);
  const ResNet net(model.arch);
  CHECK(net.parameter_count() < run.exp.arch.parameter_count());

  int written = 0;
  for (int64_t i = 0; i < run.exp.test->size() && written < 2; ++i) {
    if (run.exp.test->labels[i] != 2 && run.exp.test->labels[i] != 4) continue;
    const Image original = run.exp.test->images->image(i);
    const std::string png = dir / ("image" + std::to_string(written++) + ".png");
    write_png(png, original);
    // `taper predict`'s path: read, resize to the model's input, normalise, forward, softmax.
    const Image im = read_image(png);
    CHECK(im.pixels == original.pixels);
    Tensor x = Tensor::empty({1, 3, 32, 32}), y = Tensor::empty({1, 3, 32, 32});
    Generator unused(0);
    augment_imagenet(im, unused, false, kCifar100Normalization, x.f32(), 32, 32);
    run.exp.transform(false)(original, unused, y.f32());
    CHECK(max_abs_diff(x, y) <= 1e-6);  // the same preprocessing as evaluation
    NoGradGuard no_grad;
    TensorMap buffers = model.buffers;
    const Tensor logits = net.forward(model.params, buffers, x, false);
    CHECK(same_bits(logits, eval_logits(pm, x)));
    const Tensor probs = softmax(logits);
    REQUIRE(probs.shape() == Shape{1, 3});
    double sum = 0.0;
    for (float p : probs.to_vector()) sum += p;
    CHECK(sum == doctest::Approx(1.0).epsilon(1e-5));
    const std::vector<float> p = probs.to_vector();
    const int64_t best = std::max_element(p.begin(), p.end()) - p.begin();
    MESSAGE(png << ": " << model.class_names[best] << " (" << 100 * p[best] << "%), truth "
                << run.exp.test->meta.class_names[run.exp.test->labels[i]]);
  }
  CHECK(written == 2);

  // Training again into the finished run without --resume is refused; with it, nothing changes.
  CHECK_THROWS_WITH(train_run(config, run_dir, false), doctest::Contains("--resume"));
  const std::string stage3 = read_bytes(run_dir + "/stage3.safetensors");
  train_run(config, run_dir, true);
  CHECK(read_bytes(run_dir + "/stage3.safetensors") == stage3);
}

TEST_CASE("taper: a tiny run with one mixer, shared BatchNorm statistics and no baseline") {
  SKIP_WITHOUT_CIFAR100();
  TempDir dir;
  std::string toml = read_bytes(config_path("tiny_e2e.toml"));
  auto replace = [&](const std::string& from, const std::string& to) {
    const size_t at = toml.find(from);
    REQUIRE(at != std::string::npos);
    toml.replace(at, from.size(), to);
  };
  replace("bases = 2", "bases = 2\nmixers = \"single\"\nbn_stats = \"shared\"");
  replace("[baseline]\nepochs = 1", "[baseline]\nepochs = 0");
  const RunConfig config = parse_config(toml, "variant.toml");
  const std::string run_dir = dir / "run";
  train_run(config, run_dir, false);
  CHECK_FALSE(fs::exists(run_dir + "/baseline.safetensors"));
  const nlohmann::json eval = nlohmann::json::parse(read_bytes(run_dir + "/eval.json"));
  CHECK_FALSE(eval.contains("baseline_standard"));
  CHECK(eval.at("taper_personalized").get<double>() >= 0.0);

  TrainedRun run = load_run(run_dir);
  // Shared statistics: every basis holds the same running statistics.
  const SafetensorsFile stage3 = load_safetensors(run_dir + "/stage3.safetensors");
  int compared = 0;
  for (const auto& [name, t] : stage3.tensors) {
    if (name.rfind("buffers/basis.0.", 0) != 0) continue;
    const std::string other = "buffers/basis.1." + name.substr(16);
    CAPTURE(other);
    REQUIRE(stage3.tensors.count(other));
    CHECK(same_bits(t, stage3.tensors.at(other)));
    ++compared;
  }
  CHECK(compared == static_cast<int>(run.exp.arch.buffers().size()));

  CHECK(run.baseline.params.empty());
  CHECK(run.exp.layout.num_blocks == 1);
  const PersonalizedModel pm = personalize(run.exp, run.taper, Task{{0, 1, 2}, -1});
  CHECK(pm.mixers.size() == 1);
  // The mixed statistics are the shared ones.
  for (const auto& [n, t] : pm.buffers) CHECK(max_abs_diff(t, run.taper.bases.buffers[0].at(n)) <= 1e-6);
}

// Options for the scale "unit" laid out in a temporary folder.
ReproduceOptions unit_scale(const TempDir& dir) {
  ReproduceOptions o;
  o.scale = "unit";
  o.experiments_dir = dir.str() + "/experiments";
  o.results_dir = dir.str() + "/results";
  o.runs_dir = dir.str() + "/runs";
  o.command = "unit test";
  return o;
}

// What `reproduce --plan` prints for these options.
std::string plan_of(ReproduceOptions o) {
  o.plan = true;
  std::FILE* plan = std::tmpfile();
  o.plan_out = plan;
  reproduce(o);
  std::rewind(plan);
  std::vector<char> bytes(1 << 16);
  const std::string text(bytes.data(), std::fread(bytes.data(), 1, bytes.size(), plan));
  std::fclose(plan);
  return text;
}

TEST_CASE("taper reproduce: rows, shared runs, evaluation overrides, results and the regression check") {
  SKIP_WITHOUT_CIFAR100();
  TempDir dir;
  std::ifstream base_in(config_path("tiny_e2e.toml"));
  const std::string base((std::istreambuf_iterator<char>(base_in)), std::istreambuf_iterator<char>());
  dir.write("experiments/unit/base.toml", base);
  dir.write("experiments/unit/exp.toml", R"(title = "unit"
base = "base.toml"
seeds = 1
tolerance = 0.01
[[row]]
label = "selection"
metric = "baseline_classifier_selection"
paper = 90.0
set = {}
[[row]]
label = "TAPER"
metric = "taper_personalized"
set = {}
[[row]]
label = "TAPER, dynamic eval"
metric = "taper_personalized"
set = {}
eval = { "tasks.k_min" = 2, "tasks.k_max" = 3 }
[[claim]]
text = "TAPER beats selection"
better = "TAPER"
worse = "selection"
)");
  ReproduceOptions o = unit_scale(dir);
  reproduce(o);
  const std::string json_path = dir.str() + "/results/unit/exp.json";
  std::ifstream in(json_path);
  const nlohmann::json doc = nlohmann::json::parse(in);
  REQUIRE(doc["rows"].size() == 3);
  for (const auto& r : doc["rows"]) {
    CHECK(r["mean"].get<double>() >= 0.0);
    CHECK(r["mean"].get<double>() <= 100.0);
  }
  CHECK(doc["rows"][0]["paper"].get<double>() == 90.0);
  CHECK(doc["claims"][0]["verdict"].get<std::string>().find("at this scale") != std::string::npos);
  CHECK(fs::exists(dir.str() + "/results/unit/exp.md"));
  CHECK(fs::exists(dir.str() + "/results/unit/exp.csv"));
  // One training run serves all three rows; the override adds one evaluation file.
  CHECK(std::distance(fs::directory_iterator(dir.str() + "/runs/unit"), fs::directory_iterator{}) == 1);
  CHECK(compare_results(json_path, json_path).empty());
  // The regression check: these results against themselves pass; an experiment that could not run fails.
  CHECK(regression_failures(o, {}, o.results_dir).empty());
  const std::vector<std::string> unchecked = regression_failures(o, {"exp"}, o.results_dir);
  REQUIRE(unchecked.size() == 1);
  CHECK(unchecked[0].find("exp: not checked") == 0);
  nlohmann::json moved = doc;
  moved["rows"][1]["mean"] = doc["rows"][1]["mean"].get<double>() + 5.0;
  std::ofstream(dir.str() + "/moved.json") << moved.dump();
  CHECK(compare_results(json_path, dir.str() + "/moved.json").size() == 1);
  // The plan: a second file whose rows differ from the finished run in stage 3 only (two ways) and in
  // the baseline; stage 1 and 2 are shared, so only those trainings are left, with the finished
  // run's epoch times.
  dir.write("experiments/unit/more.toml", R"(title = "more"
base = "base.toml"
seeds = 1
[[row]]
label = "k 2"
metric = "taper_personalized"
set = { "tasks.k" = 2 }
[[row]]
label = "k 2, other baseline"
metric = "baseline_classifier_selection"
set = { "tasks.k" = 2, "baseline.epochs" = 2 }
[[row]]
label = "more groups"
metric = "taper_personalized"
set = { "taper.groups" = 4 }
)");
  o.only = {"more"};
  const std::string text = plan_of(o);
  CAPTURE(text);
  CHECK(text.find("more         3 rows x 1 seeds:  3 runs,  0 finished") != std::string::npos);
  CHECK(text.find("stage1") == std::string::npos);
  CHECK(text.find("stage2") == std::string::npos);
  CHECK(text.find("stage3      2 trainings,     2 epochs") != std::string::npos);
  CHECK(text.find("baseline    1 trainings,     2 epochs") != std::string::npos);
  CHECK(text.find("s per epoch") != std::string::npos);  // measured by the finished run
  CHECK(text.find("not measured yet") == std::string::npos);
  CHECK(std::distance(fs::directory_iterator(dir.str() + "/runs/unit"), fs::directory_iterator{}) == 1);  // trains nothing
  // Without any run of the scale, no epoch is measured: epochs, no hours.
  ReproduceOptions fresh = o;
  fresh.runs_dir = dir.str() + "/fresh-runs";
  const std::string unmeasured = plan_of(fresh);
  CAPTURE(unmeasured);
  CHECK(unmeasured.find("no hours yet: ") != std::string::npos);
  CHECK(unmeasured.find(" epochs not measured yet (no run of the scale") != std::string::npos);
  CHECK(unmeasured.find("about") == std::string::npos);
  // Bad experiment files fail before any training, naming the file.
  dir.write("experiments/unit/bad.toml", "title = \"x\"\nbase = \"base.toml\"\n[[row]]\nlabel = \"a\"\nmetric = \"m\"\n"
                                         "eval = { \"model.arch\" = \"resnet20\" }\n");
  o.only = {"bad"};
  CHECK_THROWS_WITH_AS(reproduce(o), doctest::Contains("eval may only set tasks.* keys"), ConfigError);
  dir.write("experiments/unit/bad.toml", "title = \"x\"\nbase = \"base.toml\"\ncolour = 1\n");
  CHECK_THROWS_WITH_AS(reproduce(o), doctest::Contains("unknown key 'colour'"), ConfigError);
}

TEST_CASE("taper: basis similarity is the cosine of the flattened parameters, raw or centered") {
  Bases bases;
  auto basis = [](std::vector<float> a, std::vector<float> b) {
    TensorMap m;
    m["a"] = Tensor::from_vector(a, {static_cast<int64_t>(a.size())});
    m["b"] = Tensor::from_vector(b, {static_cast<int64_t>(b.size())});
    return m;
  };
  bases.params = {basis({1, 0}, {0}), basis({0, 1}, {0}), basis({2, 0}, {0})};
  const auto raw = basis_similarity(bases, false);
  CHECK(raw[0][0] == doctest::Approx(1.0));
  CHECK(raw[0][1] == doctest::Approx(0.0));  // orthogonal
  CHECK(raw[0][2] == doctest::Approx(1.0));  // same direction, other length
  CHECK(raw[1][2] == raw[2][1]);
  bases.params = {basis({1, 0}, {3}), basis({-1, 0}, {3})};
  const auto centered = basis_similarity(bases, true);
  CHECK(centered[0][1] == doctest::Approx(-1.0));  // deviations from the mean point apart
  CHECK(basis_similarity(bases, false)[0][1] == doctest::Approx(8.0 / 10.0));
}

TEST_CASE("taper: SVG figures hold their series and labels, escaped, and refuse empty data") {
  const std::string chart = line_chart_svg({"a <title>", "x", "y"}, {Series{"ours & theirs", {0, 1, 2}, {10, 20, 15}, {1, 1, 1}, ""}});
  CHECK(chart.rfind("<svg", 0) == 0);
  CHECK(chart.find("</svg>") != std::string::npos);
  CHECK(chart.find("a &lt;title&gt;") != std::string::npos);
  CHECK(chart.find("ours &amp; theirs") != std::string::npos);
  CHECK(chart.find("<polyline") != std::string::npos);
  CHECK(chart.find("stroke-dasharray") == std::string::npos);  // solid unless asked
  const std::string dashed = line_chart_svg({"t", "x", "y"}, {Series{"oracle", {0, 1}, {5, 5}, {}, "3,4"}});
  size_t dashes = 0;  // the line and its legend sample
  for (size_t at = dashed.find("stroke-dasharray=\"3,4\""); at != std::string::npos;
       at = dashed.find("stroke-dasharray=\"3,4\"", at + 1))
    ++dashes;
  CHECK(dashes == 2);
  const std::string map = heatmap_svg({"m", "", ""}, {"r0", "r1"}, {"c0", "c1"}, {{0.0, 0.5}, {0.25, 1.0}}, 0.0, 1.0);
  CHECK(map.find(">0.25<") != std::string::npos);  // small grids print their values
  CHECK(map.find(">r1<") != std::string::npos);
  CHECK_THROWS_AS(heatmap_svg({"m", "", ""}, {}, {}, {}, 0.0, 1.0), std::invalid_argument);
  CHECK_THROWS_AS(line_chart_svg({"m", "", ""}, {}), std::invalid_argument);
}

TEST_CASE("taper: self-improvement and mixer analyses on a tiny run") {
  SKIP_WITHOUT_CIFAR100();
  TempDir dir;
  const RunConfig config = load_config(config_path("tiny_e2e.toml"));
  train_run(config, dir / "run", false);
  TrainedRun run = load_run(dir / "run");
  const SelfImprovementCurve c = self_improvement(run.exp, run.stage1, run.taper, {4, 3, 5});
  REQUIRE(c.accuracy.size() == 4);
  REQUIRE(c.recall.size() == 4);
  CHECK(c.recall[0] == 0.0);
  for (size_t s = 0; s < c.accuracy.size(); ++s) {
    CHECK(c.accuracy[s] >= 0.0);
    CHECK(c.accuracy[s] <= 1.0);
    CHECK(c.recall[s] <= 1.0 + 1e-12);
  }
  // Within the true task the standard network can only gain (the label is in the task).
  CHECK(c.oracle_selection >= c.accuracy[0]);
  // Deterministic: the same options give the same curve.
  const SelfImprovementCurve again = self_improvement(run.exp, run.stage1, run.taper, {4, 3, 5});
  CHECK(again.accuracy == c.accuracy);

  const auto& supers = run.exp.test->meta.super_names;
  const std::string a = supers.at(run.exp.test->meta.super_of_class.at(0));
  const std::string b = supers.at(run.exp.test->meta.super_of_class.at(1));
  const MixerStudy m = mixers_of_super_categories(run.exp, run.taper, {a, b}, 3, 1);
  REQUIRE(m.tasks.size() == 6);
  CHECK(m.tasks[0].group == a);
  CHECK(m.tasks[5].group == b);
  for (const TaskMixers& t : m.tasks) {
    REQUIRE(t.mixers.size() == static_cast<size_t>(run.exp.layout.num_blocks * config.taper.bases));
    double sum = 0.0;
    for (double v : t.mixers) sum += v;
    CHECK(sum == doctest::Approx(run.exp.layout.num_blocks).epsilon(1e-5));  // one softmax per block
  }
  CHECK(m.within >= 0.0);
  CHECK(m.between <= 1.0);
  CHECK_THROWS_WITH(mixers_of_super_categories(run.exp, run.taper, {"dragons", b}, 3, 1),
                    doctest::Contains("super-category 'dragons' is not one of cifar100's"));
}

// An experiment file of the unit scale over base.toml with these rows.
std::string experiment_file(int64_t seeds, const std::string& rows) {
  return "title = \"unit\"\nbase = \"base.toml\"\nseeds = " + std::to_string(seeds) + "\n" + rows;
}

// A [[row]] of TAPER's personalized accuracy under the overrides `set` (an inline TOML table).
std::string taper_row(const std::string& label, const std::string& set) {
  return "[[row]]\nlabel = \"" + label + "\"\nmetric = \"taper_personalized\"\nset = " + set + "\n";
}

TEST_CASE("taper reproduce --plan: the groups in the order --jobs takes them, the costliest first") {
  TempDir dir;
  dir.write("experiments/unit/base.toml", read_bytes(config_path("tiny_e2e.toml")));
  // A ResNet-20 baseline alone (2 epochs, 3.3x a ResNet-8's multiply-adds an image) and a TAPER run (4 epochs of
  // ResNet-8: stage 1, 2, 3 and its baseline): the fewer epochs cost more, so they go first.
  dir.write("experiments/unit/exp.toml",
            experiment_file(1, taper_row("TAPER", "{}") +
                                   taper_row("ResNet-20 baseline", "{ \"model.arch\" = \"resnet20\", "
                                             "\"stage1.epochs\" = 0, \"stage2.epochs\" = 0, \"stage3.epochs\" = 0, "
                                             "\"baseline.epochs\" = 2 }")));
  const std::string text = plan_of(unit_scale(dir));
  CAPTURE(text);
  // Both train on the same images: the shares are those of epochs x multiply-adds.
  const auto madds = [](const char* arch) {
    return static_cast<double>(ResNet({.arch = arch, .width = 0.25, .num_classes = 5}).multiply_adds(32, 32));
  };
  const double r20 = 2 * madds("resnet20"), r8 = 4 * madds("resnet8");
  char first[128], second[128];
  std::snprintf(first, sizeof first, "    1.   1 runs,    2 epochs,  %.1f%%  cifar100 resnet20 width 0.25\n",
                100 * r20 / (r20 + r8));
  std::snprintf(second, sizeof second, "    2.   1 runs,    4 epochs,  %.1f%%  cifar100 resnet8 width 0.25\n",
                100 * r8 / (r20 + r8));
  CHECK(text.find("take the runs in 2 groups sharing checkpoints, costliest first") != std::string::npos);
  CHECK(text.find(first) != std::string::npos);
  CHECK(text.find(second) != std::string::npos);
}

TEST_CASE("taper: the datasets' nominal sizes, which order --jobs's work, are those of the data") {
  for (const std::string& name : dataset_names()) {
    CAPTURE(name);
    const NominalSize n = nominal_size(name);
    CHECK(n.classes > 0);
    CHECK(n.train_per_class > 0);
    CHECK(n.side == (variable_image_size(name) ? 224 : name == "pacs" ? 64 : 32));
  }
  CHECK_THROWS_WITH_AS(nominal_size("imagenet21k"), doctest::Contains("unknown dataset"), DataError);
  SKIP_WITHOUT_CIFAR100();
  for (const char* name : {"cifar100", "pacs"}) {
    CAPTURE(name);
    if (!fs::is_directory(data_root() + (name == std::string("pacs") ? "/pacs-64" : "/cifar-100-binary"))) continue;
    const NominalSize n = nominal_size(name);
    const Dataset train = load_dataset(name, "train");
    CHECK(train.meta.num_classes() == n.classes);
    CHECK(std::abs(train.size() - n.classes * n.train_per_class) < n.classes);  // PACS's average, rounded
    CHECK(train.images->image(0).height == n.side);
  }
}

TEST_CASE("taper reproduce: an interrupted run lends the stages it finished, not the one it was in") {
  SKIP_WITHOUT_CIFAR100();
  TempDir dir;
  dir.write("experiments/unit/base.toml", read_bytes(config_path("tiny_e2e.toml")));
  dir.write("experiments/unit/exp.toml", experiment_file(1, taper_row("TAPER", "{}")));
  ReproduceOptions o = unit_scale(dir);
  reproduce(o);
  std::vector<fs::path> runs(fs::directory_iterator(dir.str() + "/runs/unit"), fs::directory_iterator{});
  REQUIRE(runs.size() == 1);
  // Turn the run into one interrupted in stage 3: no eval.json, stage 3 at 0 epochs.
  const fs::path interrupted = runs[0];
  fs::remove(interrupted / "eval.json");
  const std::string stage3 = (interrupted / "stage3.safetensors").string();
  SafetensorsFile partial = load_safetensors(stage3);
  partial.metadata["epochs_done"] = "0";
  save_safetensors(stage3, partial);
  // A row that differs in the baseline only: stages 1 and 2 come from the
  // interrupted run, stage 3 is trained again.
  dir.write("experiments/unit/exp.toml", experiment_file(1, taper_row("TAPER", "{ \"baseline.epochs\" = 2 }")));
  // The plan counts the stages the interrupted run finished as done.
  const std::string text = plan_of(o);
  CAPTURE(text);
  CHECK(text.find("stage1") == std::string::npos);
  CHECK(text.find("stage2") == std::string::npos);
  CHECK(text.find("stage3      1 trainings,     1 epochs") != std::string::npos);
  CHECK(text.find("baseline    1 trainings,     2 epochs") != std::string::npos);
  reproduce(o);
  runs.assign(fs::directory_iterator(dir.str() + "/runs/unit"), fs::directory_iterator{});
  REQUIRE(runs.size() == 2);
  const fs::path fresh = runs[0] == interrupted ? runs[1] : runs[0];
  CHECK(fs::exists(fresh / "eval.json"));
  const std::string log = read_bytes((fresh / "log.jsonl").string());
  CHECK(log.find("\"stage1\"") == std::string::npos);
  CHECK(log.find("\"stage2") == std::string::npos);
  CHECK(log.find("\"stage3\"") != std::string::npos);
  CHECK(log.find("\"baseline\"") != std::string::npos);
}

// The files of a folder that end in `suffix`.
std::vector<fs::path> files_ending(const fs::path& dir, const std::string& suffix) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      out.push_back(e.path());
    }
  }
  return out;
}

TEST_CASE("taper reproduce: the ledger restores finished runs into a fresh clone; an evaluation it lacks retrains") {
  SKIP_WITHOUT_CIFAR100();
  TempDir dir;
  dir.write("experiments/unit/base.toml", read_bytes(config_path("tiny_e2e.toml")));
  const auto write_exp = [&](int steps) {
    dir.write("experiments/unit/exp.toml", experiment_file(1, taper_row("TAPER", "{}")) +
                                               "[analysis.self_improvement]\ntasks = 2\nsteps = " +
                                               std::to_string(steps) +
                                               "\n[[row]]\nlabel = \"step 1\"\nmetric = \"self_improvement.step1\"\n");
  };
  write_exp(1);
  ReproduceOptions o = unit_scale(dir);
  o.ledger = true;
  reproduce(o);
  const fs::path runs = dir.str() + "/runs/unit", ledger = dir.str() + "/results/unit/runs";
  std::vector<fs::path> records(fs::directory_iterator(ledger), fs::directory_iterator{});
  REQUIRE(records.size() == 1);
  const fs::path record = records[0], run = runs / record.filename();
  // The record: config, log, eval.json, the analysis and its provenance; no checkpoint.
  for (const char* f : {"config.toml", "log.jsonl", "eval.json", "recorded.json"}) CHECK(fs::exists(record / f));
  CHECK(files_ending(record, ".safetensors").empty());
  CHECK(files_ending(record, ".json").size() == 3);  // eval, analysis, recorded
  // The record's eval.json: the run's results, and the provenance of recorded.json beside them.
  nlohmann::json recorded_eval = nlohmann::json::parse(read_bytes((record / "eval.json").string()));
  const nlohmann::json provenance = nlohmann::json::parse(read_bytes((record / "recorded.json").string()));
  CHECK(recorded_eval["recorded"] == provenance);
  recorded_eval.erase("recorded");
  CHECK(recorded_eval == nlohmann::json::parse(read_bytes((run / "eval.json").string())));
  CHECK(provenance["command"] == "unit test");
  for (const char* k : {"commit", "date", "machine"}) CHECK(provenance.contains(k));
  const std::string first = read_bytes(dir.str() + "/results/unit/exp.json");

  // A fresh clone: no run folders. Nothing trains; the numbers are the same.
  fs::remove_all(dir.str() + "/runs");
  const std::string plan = plan_of(o);
  CAPTURE(plan);
  CHECK(plan.find("1 runs,  1 finished") != std::string::npos);
  CHECK(plan.find("(1 of them restored from the ledger, without checkpoints)") != std::string::npos);
  reproduce(o);
  CHECK(files_ending(run, ".safetensors").empty());
  CHECK(is_restored(run));
  const nlohmann::json again = nlohmann::json::parse(read_bytes(dir.str() + "/results/unit/exp.json"));
  CHECK(again["rows"] == nlohmann::json::parse(first)["rows"]);
  REQUIRE(again["ledger_runs"].size() == 1);
  CHECK(again["ledger_runs"].begin().value() == 1);
  CHECK(read_bytes(dir.str() + "/results/unit/exp.md").find("1 of its runs restored from the ledger") !=
        std::string::npos);

  // An analysis the ledger lacks: the plan counts the run as one to train again, --no-train waits for
  // it, and a shard (beside the others, not in the serial pass after them) trains it again.
  write_exp(2);
  const std::string lacking = plan_of(o);
  CAPTURE(lacking);
  CHECK(lacking.find("1 runs,  0 finished") != std::string::npos);
  CHECK(lacking.find("1 more restored but lacking a result file their rows read, to train again") != std::string::npos);
  ReproduceOptions results_only = o;
  results_only.no_train = true;
  CHECK(reproduce(results_only) == std::vector<std::string>{"exp"});
  ReproduceOptions shard = o;
  shard.shards = 2;
  shard.claims_dir = dir.str() + "/claims";
  for (int64_t k : {0, 1}) {
    shard.shard = k;
    reproduce(shard);
  }
  CHECK_FALSE(is_restored(run));
  CHECK_FALSE(files_ending(run, ".safetensors").empty());
  CHECK(reproduce(results_only).empty());
  const nlohmann::json retrained = nlohmann::json::parse(read_bytes(dir.str() + "/results/unit/exp.json"));
  CHECK(retrained["rows"] == again["rows"]);  // same config and seed: the same numbers
  CHECK_FALSE(retrained.contains("ledger_runs"));
  CHECK(files_ending(record, ".json").size() == 4);  // the new analysis was recorded too

  // In a fresh clone, a plain pass (no shards) trains a restored run again for an analysis the ledger lacks.
  fs::remove_all(dir.str() + "/runs");
  write_exp(3);
  reproduce(o);
  CHECK_FALSE(is_restored(run));
  CHECK(nlohmann::json::parse(read_bytes(dir.str() + "/results/unit/exp.json"))["rows"][0] == again["rows"][0]);
  CHECK(files_ending(record, ".json").size() == 5);

  // A run trained here keeps its own files: restoring adds, never replaces or marks.
  fs::remove(record / "log.jsonl");
  dir.write("results/unit/runs/" + record.filename().string() + "/eval.json", "{}");
  const std::string own_eval = read_bytes((run / "eval.json").string());
  restore_runs(ledger, runs);
  CHECK(read_bytes((run / "eval.json").string()) == own_eval);
  CHECK_FALSE(is_restored(run));

  // A restored run emptied to train again holds its config alone until its training writes more; a
  // restore meanwhile (another --jobs shard starting, a --plan beside them) leaves it so, rather than
  // making it look finished without checkpoints.
  fs::remove_all(runs);
  restore_runs(ledger, runs);
  REQUIRE(is_restored(run));
  forget_restored(run);
  restore_runs(ledger, runs);
  CHECK_FALSE(is_restored(run));
  CHECK_FALSE(fs::exists(run / "eval.json"));
  CHECK(std::distance(fs::directory_iterator(run), fs::directory_iterator{}) == 1);
  CHECK(fs::exists(runs.string() + ".ledger.lock"));  // beside the run folders, not among them
}

TEST_CASE("taper reproduce: check_experiments fails on what reproduce would, before anything trains") {
  TempDir dir;
  dir.write("experiments/unit/base.toml", read_bytes(config_path("tiny_e2e.toml")));
  dir.write("experiments/unit/exp.toml", experiment_file(1, taper_row("TAPER", "{}")));
  dir.write("experiments/unit/typo.toml", experiment_file(1, taper_row("TAPER", "{ \"taper.colour\" = 1 }")));
  ReproduceOptions o = unit_scale(dir);
  o.only = {"exp", "absent"};
  CHECK_THROWS_WITH_AS(check_experiments(o), doctest::Contains("absent.toml: no such experiment at scale unit"),
                       ConfigError);
  o.only = {"typo"};
  CHECK_THROWS_WITH_AS(check_experiments(o), doctest::Contains("typo.toml row 'TAPER'"), ConfigError);
  CHECK_THROWS_WITH_AS(check_experiments(o), doctest::Contains("taper.colour: unknown key"), ConfigError);
  o.only = {};
  o.scale = "nowhere";
  CHECK_THROWS_WITH_AS(check_experiments(o), doctest::Contains("no such scale"), ConfigError);
  SKIP_WITHOUT_CIFAR100();
  o = unit_scale(dir);
  o.only = {"exp"};
  CHECK_NOTHROW(check_experiments(o));
  CHECK_FALSE(fs::exists(dir.str() + "/runs"));
}

TEST_CASE("taper reproduce: shards train disjoint groups of runs; --no-train then gives a sequential run's numbers") {
  SKIP_WITHOUT_CIFAR100();
  const std::string base = read_bytes(config_path("tiny_e2e.toml"));
  // The second row shares stage 1 and 2 and trains no stage 3 of its own: cheap, in the same group.
  const std::string exp = experiment_file(
      2, taper_row("TAPER", "{}") + taper_row("TAPER, untrained stage 3", "{ \"stage3.epochs\" = 0 }"));
  auto finished = [](const TempDir& dir) {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(dir.str() + "/runs/unit"))
      if (fs::exists(e.path() / "eval.json")) out.insert(e.path().filename().string());
    return out;
  };
  TempDir sharded, sequential;
  for (TempDir* d : {&sharded, &sequential}) {
    d->write("experiments/unit/base.toml", base);
    d->write("experiments/unit/exp.toml", exp);
  }
  ReproduceOptions o = unit_scale(sharded);
  o.shards = 2;
  o.shard = 1;
  reproduce(o);
  // One seed's group (its two runs share stage 1); no results yet.
  const std::set<std::string> first = finished(sharded);
  CHECK(first.size() == 2);
  CHECK_FALSE(fs::exists(sharded.str() + "/results/unit/exp.json"));
  // --no-train writes nothing while runs are missing.
  ReproduceOptions results_only = unit_scale(sharded);
  results_only.no_train = true;
  CHECK(reproduce(results_only) == std::vector<std::string>{"exp"});
  CHECK_FALSE(fs::exists(sharded.str() + "/results/unit/exp.json"));
  o.shard = 0;
  reproduce(o);
  const std::set<std::string> both = finished(sharded);
  CHECK(both.size() == 4);
  for (const std::string& r : first) CHECK(both.count(r));
  // Within a group, the second run took the first one's stage 1.
  int stage1_trained = 0;
  for (const std::string& r : both)
    stage1_trained += read_bytes(sharded.str() + "/runs/unit/" + r + "/log.jsonl").find("\"stage1\"") != std::string::npos;
  CHECK(stage1_trained == 2);
  CHECK(reproduce(results_only).empty());
  reproduce(unit_scale(sequential));
  const auto rows = [](const TempDir& d) {
    return nlohmann::json::parse(read_bytes(d.str() + "/results/unit/exp.json"))["rows"];
  };
  CHECK(rows(sharded) == rows(sequential));
  CHECK(finished(sharded) == finished(sequential));
}

TEST_CASE("taper reproduce: with a claim folder, a shard takes every group no other shard has claimed") {
  SKIP_WITHOUT_CIFAR100();
  TempDir dir;
  dir.write("experiments/unit/base.toml", read_bytes(config_path("tiny_e2e.toml")));
  dir.write("experiments/unit/exp.toml", experiment_file(2, taper_row("TAPER", "{}")));  // a group per seed
  const auto evaluated = [&] {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(dir.str() + "/runs/unit"))
      if (fs::exists(e.path() / "eval.json")) out.push_back(e.path());
    return out;
  };
  ReproduceOptions o = unit_scale(dir);
  o.shards = 2;
  o.shard = 1;
  o.claims_dir = dir.str() + "/claims";
  reproduce(o);  // alone, it claims both seeds' groups: a fixed share would be one
  const std::vector<fs::path> runs = evaluated();
  CHECK(runs.size() == 2);
  std::set<std::string> claims;
  for (const auto& e : fs::directory_iterator(o.claims_dir)) claims.insert(e.path().filename().string());
  CHECK(claims == std::set<std::string>{"group-0", "group-1"});
  // Every group is claimed: shard 0 trains nothing, not even a run whose evaluation went missing.
  REQUIRE_FALSE(runs.empty());
  fs::remove(runs[0] / "eval.json");
  o.shard = 0;
  reproduce(o);
  CHECK(evaluated().size() == 1);
  // With fixed shares, the shard holding that run's group evaluates it again.
  o.claims_dir.clear();
  reproduce(o);
  o.shard = 1;
  reproduce(o);
  CHECK(evaluated().size() == 2);
}

TEST_CASE("taper reproduce: runs sharing only a baseline are one group: the baseline is trained once") {
  SKIP_WITHOUT_CIFAR100();
  TempDir dir;
  dir.write("experiments/unit/base.toml", read_bytes(config_path("tiny_e2e.toml")));
  // Two runs that differ in stage 1 alone (and train nothing after it, to be quick).
  const std::string untrained = "\"stage2.epochs\" = 0, \"stage3.epochs\" = 0";
  const std::string rows = "[[row]]\nlabel = \"standard\"\nmetric = \"baseline_standard\"\nset = { " + untrained +
                           " }\n" + taper_row("TAPER, untrained stage 1", "{ \"stage1.epochs\" = 0, " + untrained + " }");
  dir.write("experiments/unit/exp.toml", experiment_file(1, rows));
  ReproduceOptions o = unit_scale(dir);
  o.shards = 2;
  o.shard = 1;
  reproduce(o);  // one group, dealt to shard 0
  CHECK_FALSE(fs::exists(dir.str() + "/runs/unit"));
  o.shard = 0;
  reproduce(o);
  int evaluated = 0, baselines_trained = 0;
  for (const auto& e : fs::directory_iterator(dir.str() + "/runs/unit")) {
    evaluated += fs::exists(e.path() / "eval.json");
    baselines_trained += read_bytes((e.path() / "log.jsonl").string()).find("\"baseline\"") != std::string::npos;
  }
  CHECK(evaluated == 2);
  CHECK(baselines_trained == 1);
}

TEST_CASE("taper reproduce: extends, shared set, per-row bases, analyses with figures, stage 3 shared across files") {
  SKIP_WITHOUT_CIFAR100();
  TempDir dir;
  const std::string base = read_bytes(config_path("tiny_e2e.toml"));
  dir.write("experiments/parent/base.toml", base);
  dir.write("experiments/parent/exp.toml", R"(title = "parent"
base = "base.toml"
seeds = 1
set = { "tasks.k" = 2 }
[[row]]
label = "TAPER"
metric = "taper_personalized"
set = {}
)");
  dir.write("experiments/unit/base.toml", base);
  std::string other_base = base;
  other_base.replace(other_base.find("k = 3"), 5, "k = 4");
  dir.write("experiments/unit/base-other.toml", other_base);
  // A child that keeps the parent's rows, adds to its `set`, uses its own base.
  dir.write("experiments/unit/child.toml", R"(extends = "../parent/exp.toml"
set = { "finetune_average.epochs" = 1 }
)");
  dir.write("experiments/unit/fig.toml", R"(title = "fig"
base = "base.toml"
seeds = 1
[analysis.self_improvement]
tasks = 2
steps = 2
[[row]]
label = "step 0"
metric = "self_improvement.step0"
[[row]]
label = "step 2"
metric = "self_improvement.step2"
[[row]]
label = "other base"
metric = "taper_personalized"
base = "base-other.toml"
[[row]]
label = "fine-tuned average"
metric = "finetuned_average_classifier_selection"
set = { "finetune_average.epochs" = 1 }
)");
  ReproduceOptions o = unit_scale(dir);
  o.only = {"fig"};
  reproduce(o);
  const nlohmann::json fig = nlohmann::json::parse(read_bytes(dir.str() + "/results/unit/fig.json"));
  REQUIRE(fig["rows"].size() == 4);
  CHECK(fig["rows"][0]["parameters_per_task"].is_null());  // an analysis row has no network of its own
  REQUIRE(fig["figures"].size() == 1);
  CHECK(fig["figures"][0] == "figures/fig-self_improvement.svg");
  CHECK(read_bytes(dir.str() + "/results/unit/figures/fig-self_improvement.svg").find("self-improvement") !=
        std::string::npos);
  CHECK(read_bytes(dir.str() + "/results/unit/fig.md").find("![figures/fig-self_improvement.svg]") != std::string::npos);

  // Three runs: base.toml, base-other.toml (k = 4), and base.toml with the fine-tune,
  // which copied every checkpoint of the first and trained only the fine-tune.
  std::vector<fs::path> runs;
  for (const auto& e : fs::directory_iterator(dir.str() + "/runs/unit")) runs.push_back(e.path());
  REQUIRE(runs.size() == 3);
  int finetuned = 0;
  for (const fs::path& r : runs) {
    if (!fs::exists(r / "finetune_average.safetensors")) continue;
    ++finetuned;
    const std::string log = read_bytes((r / "log.jsonl").string());
    CHECK(log.find("\"finetune_average\"") != std::string::npos);
    CHECK(log.find("\"stage3\"") == std::string::npos);  // shared, not retrained
    CHECK(log.find("\"stage1\"") == std::string::npos);
  }
  CHECK(finetuned == 1);

  o.only = {"child"};
  reproduce(o);
  const nlohmann::json child = nlohmann::json::parse(read_bytes(dir.str() + "/results/unit/child.json"));
  CHECK(child["title"] == "parent");
  // The child's run has the parent's override and its own.
  bool found = false;
  for (const auto& e : fs::directory_iterator(dir.str() + "/runs/unit")) {
    const RunConfig c = load_config((e.path() / "config.toml").string());
    found = found || (c.tasks.k == 2 && c.finetune_average.epochs == 1);
  }
  CHECK(found);
  dir.write("experiments/unit/loop.toml", "extends = \"loop.toml\"\n");
  o.only = {"loop"};
  CHECK_THROWS_WITH_AS(reproduce(o), doctest::Contains("'extends' chain"), ConfigError);
  dir.write("experiments/unit/badmetric.toml",
            "title = \"x\"\nbase = \"base.toml\"\n[[row]]\nlabel = \"a\"\nmetric = \"colour.hue\"\n");
  o.only = {"badmetric"};
  CHECK_THROWS_WITH_AS(reproduce(o), doctest::Contains("names no analysis"), ConfigError);
}

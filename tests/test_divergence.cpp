// The divergence check (taper/divergence.h) through the epoch loop every
// stage uses (run_stage): a NaN or infinity in a gradient or the loss stops
// training with an error naming the stage, epoch, step and parameter, before
// the bad step is applied, and the checkpoint of the last good epoch stays.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>

#include "engine/ops.h"
#include "engine/safetensors.h"
#include "taper/divergence.h"
#include "taper/stage_runner.h"
#include "tests/temp_dir.h"

using namespace taper;
using taper::testing::TempDir;

namespace {

// A linear classifier on fixed data, 3 steps per epoch, 3 epochs; a NaN
// or infinity is planted at one (epoch, step) in the gradient of fc.weight
// or in the loss.
struct Poisoned {
  int64_t epoch = 0, step = 0;  // 1-based; 0: never
  bool in_loss = false;
  float value = std::numeric_limits<float>::quiet_NaN();
};

struct LinearStage {
  TrainState state;
  StagePlan plan;
  int64_t epoch = 0, step = 0;

  explicit LinearStage(const Poisoned& poison) {
    state.params["fc.weight"] = Tensor::from_vector({0.1f, -0.2f, 0.3f, 0.0f, 0.2f, -0.1f}, Shape{2, 3});
    state.params["fc.bias"] = Tensor::zeros(Shape{2});
    for (auto& [name, p] : state.params) p.set_requires_grad(true);
    plan.name = "stage2.shard01";
    plan.config.epochs = 3;
    plan.config.optim.lr = 0.1;
    plan.steps_per_epoch = 3;
    plan.begin_epoch = [this](int64_t e) {
      epoch = e + 1;
      step = 0;
    };
    plan.step = [this, poison] {
      ++step;
      const Tensor x = Tensor::from_vector({1, 0, 2, 0, 1, -1, 3, 1, 0, -2, 1, 1}, Shape{4, 3});
      const Tensor labels = Tensor::from_labels({0, 1, 0, 1});
      const Tensor loss = cross_entropy(linear(x, state.params["fc.weight"], state.params["fc.bias"]), labels);
      loss.backward();
      float value = loss.item();
      if (epoch == poison.epoch && step == poison.step) {
        if (poison.in_loss) {
          value = poison.value;
        } else {
          state.params["fc.weight"].grad().f32()[4] = poison.value;
        }
      }
      return StepOutcome{value, 0, 4};
    };
  }
};

std::string message_of(LinearStage& s, const std::string& dir) {
  try {
    run_stage(dir, s.plan, s.state, false, {});
  } catch (const DivergenceError& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("divergence: a NaN gradient stops training naming stage, step and parameter; the last checkpoint stays") {
  TempDir dir;
  // The same run without the NaN, stopped after epoch 1: what the checkpoint must hold.
  TempDir reference;
  {
    LinearStage clean(Poisoned{});
    clean.plan.config.epochs = 1;
    run_stage(reference.str(), clean.plan, clean.state, false, {});
  }
  LinearStage s(Poisoned{2, 3});
  const std::string error = message_of(s, dir.str());
  CAPTURE(error);
  CHECK(contains(error, "stage2.shard01, epoch 2 step 3 (step 6 of the stage)"));
  CHECK(contains(error, "gradient of parameter 'fc.weight' holds NaN at element 4"));
  CHECK(contains(error, stage_file(dir.str(), "stage2.shard01") + " (1 epochs), is kept"));
  // The checkpoint holds epoch 1, bit for bit as the clean run left it: the
  // poisoned step and the two good steps before it in epoch 2 never reached disk.
  const SafetensorsFile saved = load_safetensors(stage_file(dir.str(), "stage2.shard01"));
  const SafetensorsFile expected = load_safetensors(stage_file(reference.str(), "stage2.shard01"));
  CHECK(saved.metadata.at("epochs_done") == "1");
  REQUIRE(saved.tensors.size() == expected.tensors.size());
  for (const auto& [name, t] : expected.tensors) {
    CAPTURE(name);
    CHECK(std::memcmp(saved.tensors.at(name).data_ptr(), t.data_ptr(), t.nbytes()) == 0);
  }
  // Nor was the NaN step applied to the weights in memory.
  for (const auto& [name, p] : s.state.params) {
    for (int64_t i = 0; i < p.numel(); ++i) CHECK(std::isfinite(p.f32()[i]));
  }
}

TEST_CASE("divergence: an infinite gradient in the first epoch says there is no checkpoint yet") {
  TempDir dir;
  LinearStage s(Poisoned{1, 2, false, -std::numeric_limits<float>::infinity()});
  const std::string error = message_of(s, dir.str());
  CAPTURE(error);
  CHECK(contains(error, "epoch 1 step 2"));
  CHECK(contains(error, "'fc.weight' holds -Inf"));
  CHECK(contains(error, "no checkpoint yet"));
  CHECK_FALSE(std::filesystem::exists(stage_file(dir.str(), "stage2.shard01")));
}

TEST_CASE("divergence: a NaN or infinite loss stops training naming the step") {
  for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    TempDir dir;
    LinearStage s(Poisoned{3, 1, true, bad});
    const std::string error = message_of(s, dir.str());
    CAPTURE(error);
    CHECK(contains(error, "stage2.shard01, epoch 3 step 1 (step 7 of the stage)"));
    CHECK(contains(error, std::isnan(bad) ? "the loss is NaN" : "the loss is +Inf"));
    CHECK(contains(error, "(2 epochs), is kept"));
    CHECK(load_safetensors(stage_file(dir.str(), "stage2.shard01")).metadata.at("epochs_done") == "2");
  }
}

TEST_CASE("divergence: a non-finite parameter or buffer is never saved") {
  TrainState state;
  state.params["w"] = Tensor::from_vector({1.0f, std::numeric_limits<float>::quiet_NaN()}, Shape{2});
  state.buffers["bn.running_var"] = Tensor::from_vector({1.0f}, Shape{1});
  const StepPlace at{"stage3", 4, 10, 40, "run/stage3.safetensors", 3};
  CHECK_THROWS_WITH_AS(check_state(state, at), doctest::Contains("parameter 'w' holds NaN at element 1"),
                       DivergenceError);
  state.params["w"].f32()[1] = 0.0f;
  CHECK_NOTHROW(check_state(state, at));
  state.buffers["bn.running_var"].f32()[0] = std::numeric_limits<float>::infinity();
  CHECK_THROWS_WITH_AS(check_state(state, at), doctest::Contains("buffer 'bn.running_var' holds +Inf"),
                       DivergenceError);
}

#include "taper/divergence.h"

#include <cmath>

namespace taper {
namespace {

// Index of the first NaN or infinity in a float tensor, or -1. CPU only, as
// the engine is today; a device backend would reduce on the device.
int64_t first_non_finite(const Tensor& t) {
  if (!t.defined() || t.dtype() != DType::F32) return -1;
  const float* v = t.f32();
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(v[i])) return i;
  }
  return -1;
}

std::string value_str(float v) { return std::isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf"; }

std::string where(const StepPlace& at) {
  return at.stage + ", epoch " + std::to_string(at.epoch) + " step " + std::to_string(at.step) + " (step " +
         std::to_string(at.global_step) + " of the stage)";
}

[[noreturn]] void diverged(const StepPlace& at, const std::string& what) {
  const std::string kept = at.epochs_saved > 0 ? "the last good checkpoint, " + at.checkpoint + " (" +
                                                     std::to_string(at.epochs_saved) + " epochs), is kept"
                                               : "no epoch of this stage had finished, so it has no checkpoint yet";
  throw DivergenceError("training diverged in " + where(at) + ": " + what + "; training stopped, " + kept +
                        " (a lower learning rate or a warmup may help)");
}

void check_map(const TensorMap& tensors, const char* kind, const StepPlace& at) {
  for (const auto& [name, t] : tensors) {
    const int64_t i = first_non_finite(t);
    if (i >= 0) diverged(at, std::string(kind) + " '" + name + "' holds " + value_str(t.f32()[i]) + " at element " +
                                 std::to_string(i));
  }
}

}  // namespace

void check_loss(float loss, const StepPlace& at) {
  if (!std::isfinite(loss)) diverged(at, "the loss is " + value_str(loss));
}

void check_gradients(const TensorMap& params, const StepPlace& at) {
  for (const auto& [name, p] : params) {
    const Tensor g = p.grad();
    const int64_t i = first_non_finite(g);
    if (i >= 0) {
      diverged(at, "the gradient of parameter '" + name + "' holds " + value_str(g.f32()[i]) + " at element " +
                       std::to_string(i));
    }
  }
}

void check_state(const TrainState& state, const StepPlace& at) {
  check_map(state.params, "parameter", at);
  check_map(state.buffers, "buffer", at);
}

}  // namespace taper

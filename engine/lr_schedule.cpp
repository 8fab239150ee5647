#include "engine/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace taper {

double LrSchedule::lr(int64_t step) const {
  // Warm-up ramps linearly so that step 0 already trains: (step+1)/warmup.
  if (step < warmup_steps) return base_lr * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  switch (kind) {
    case Kind::Constant:
      return base_lr;
    case Kind::Step: {
      auto passed = std::count_if(milestones.begin(), milestones.end(), [&](int64_t m) { return step >= m; });
      return base_lr * std::pow(gamma, static_cast<double>(passed));
    }
    case Kind::Cosine: {
      const double span = static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps));
      const double t = std::min(1.0, static_cast<double>(step - warmup_steps) / span);
      return min_lr + 0.5 * (base_lr - min_lr) * (1.0 + std::cos(M_PI * t));
    }
  }
  return base_lr;
}

void LrSchedule::validate() const {
  if (base_lr < 0 || min_lr < 0) throw std::invalid_argument("lr schedule: learning rates must be non-negative");
  if (warmup_steps < 0) throw std::invalid_argument("lr schedule: warmup_steps must be >= 0");
  if (kind == Kind::Cosine && total_steps <= 0) throw std::invalid_argument("lr schedule: cosine needs total_steps > 0");
  if (kind == Kind::Step && !std::is_sorted(milestones.begin(), milestones.end())) {
    throw std::invalid_argument("lr schedule: step milestones must be increasing");
  }
}

LrSchedule::Kind lr_schedule_kind(const std::string& name) {
  if (name == "constant") return LrSchedule::Kind::Constant;
  if (name == "step") return LrSchedule::Kind::Step;
  if (name == "cosine") return LrSchedule::Kind::Cosine;
  throw std::invalid_argument("lr schedule: unknown kind '" + name + "' (expected constant, step or cosine)");
}

}  // namespace taper

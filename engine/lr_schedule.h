// Learning-rate schedules: step decay (the paper's default) and cosine,
// each with an optional linear warm-up. A schedule is a pure function of
// the step, so a resumed run recomputes the same rate.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace taper {

struct LrSchedule {
  enum class Kind { Constant, Step, Cosine };
  Kind kind = Kind::Constant;
  double base_lr = 0.1;
  int64_t total_steps = 1;       // cosine reaches min_lr here
  int64_t warmup_steps = 0;      // linear ramp from 0 to base_lr
  std::vector<int64_t> milestones;  // step decay: multiply by gamma at each
  double gamma = 0.1;
  double min_lr = 0.0;

  // The rate for optimizer step `step` (0-based).
  double lr(int64_t step) const;
  // Throws std::invalid_argument on inconsistent settings.
  void validate() const;
};

// "constant", "step", "cosine" -> Kind; throws on anything else.
LrSchedule::Kind lr_schedule_kind(const std::string& name);

}  // namespace taper

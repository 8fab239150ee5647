// The divergence check of the epoch loop: a NaN or infinity in a step's
// loss or in any parameter's gradient stops training with an error naming
// the stage, epoch, step and (for gradients) the parameter, before the
// optimizer applies the step; the stage's last checkpoint, written at the
// end of the last good epoch, stays on disk untouched. Before a checkpoint
// is written its parameters and buffers are checked the same way, so that
// no non-finite state is ever saved.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "taper/checkpoint.h"

namespace taper {

class DivergenceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Where training is, for the messages.
struct StepPlace {
  std::string stage;       // "stage1", "stage2.shard03", ...
  int64_t epoch = 0;       // 1-based
  int64_t step = 0;        // 1-based within the epoch
  int64_t global_step = 0; // 1-based over the stage
  std::string checkpoint;  // the stage's checkpoint file
  int64_t epochs_saved = 0;
};

void check_loss(float loss, const StepPlace& at);
// Every parameter's gradient (those without one are skipped).
void check_gradients(const TensorMap& params, const StepPlace& at);
// Parameters and buffers, before they are saved.
void check_state(const TrainState& state, const StepPlace& at);

}  // namespace taper

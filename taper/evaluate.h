// The paper's evaluation protocol (§4.1): every test image comes with its
// own task (fixed by tasks.eval_seed); accuracy is top-1 over the whole
// label space for the standard model, and within the task for classifier
// selection and for TAPER's personalized model of that task.
#pragma once

#include <vector>

#include "taper/checkpoint.h"
#include "taper/stages.h"

namespace taper {

struct StandardAccuracy {
  double standard = 0.0;   // arg-max over all classes
  double selection = 0.0;  // arg-max over the image's task classes
};

StandardAccuracy evaluate_standard(const Experiment& exp, TrainState& net, const std::vector<Task>& tasks);

// Each image is classified by the network personalized for its task.
double evaluate_taper(const Experiment& exp, const TaperModel& model, const std::vector<Task>& tasks);

}  // namespace taper

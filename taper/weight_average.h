// Table 6 rows (6) and (7): the stage-2 bases averaged in weight space with
// equal weights (every mixer 1/Q, running statistics averaged the same way).
// No task description is involved: the result is one ordinary network, used
// as it is (row 6, "+ uniform weight average") or as the starting point of a
// standard fine-tune on all classes (row 7, config [finetune_average]).
#pragma once

#include "taper/experiment.h"
#include "taper/stages.h"

namespace taper {

TrainState uniform_average(const Experiment& exp, const Bases& bases);

}  // namespace taper

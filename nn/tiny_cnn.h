// A two-block CNN for engine tests and `taper demo`:
//   conv3x3(3->8) BN ReLU maxpool2  conv3x3(8->16) BN ReLU  global-avg-pool  linear(16->classes)
// built from engine ops directly (the module library of nn/ is a later layer).
#pragma once

#include <functional>
#include <map>
#include <string>

#include "data/synthetic_shapes.h"
#include "engine/tensor.h"

namespace taper {

struct TinyCnn {
  // Parameters and buffers by torchvision-style name ("conv1.weight", "bn1.running_mean", ...).
  std::map<std::string, Tensor> params, buffers;

  TinyCnn(int64_t classes, uint64_t seed);
  Tensor forward(const Tensor& images, bool training);
  std::vector<Tensor> parameter_list();
};

struct FitOptions {
  int epochs = 8;
  int64_t batch = 32;
  float lr = 0.05f, momentum = 0.9f, weight_decay = 1e-4f;
  uint64_t seed = 0;  // initialisation and shuffling
};

struct EpochReport {
  int epoch = 0, epochs = 0;
  int64_t step = 0, steps = 0;  // within the epoch
  float loss = 0.0f, train_accuracy = 0.0f;
};

// Trains with SGD and a cosine schedule; calls progress after every step.
void fit(TinyCnn& model, const ImageBatch& train, const FitOptions& options,
         const std::function<void(const EpochReport&)>& progress = {});

// Fraction of correctly classified images, in evaluation mode.
float accuracy(TinyCnn& model, const ImageBatch& data);

}  // namespace taper

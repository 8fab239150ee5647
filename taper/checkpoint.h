// A stage's training state on disk, so that an interrupted run resumes to
// the same weights as an uninterrupted one. One safetensors file per stage:
//   params/<name>, buffers/<name>, momentum/<name> tensors, and metadata
//   {stage, epochs_done, config} — written atomically after every epoch.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "nn/resnet.h"

namespace taper {

struct TrainState {
  TensorMap params;    // learnable, requires_grad
  TensorMap buffers;   // running statistics
  TensorMap momentum;  // SGD momentum buffers by parameter name (absent before the first step)
  int64_t epochs_done = 0;
};

// Moves every tensor of the state to device (parameters stay leaves that
// require grad); tensors shared under several names stay shared.
void move_state(TrainState& state, Device device);

void save_state(const std::string& path, const TrainState& state, const std::map<std::string, std::string>& metadata);

// Loads into `state`, whose params and buffers must already hold tensors of
// the same names and shapes (so a checkpoint from another config is rejected
// naming the first mismatching tensor). Returns the metadata.
std::map<std::string, std::string> load_state(const std::string& path, TrainState& state);

}  // namespace taper

// Everything a run builds from its config before training: the data (with
// the config's class and image limits), the architecture, the task sampler,
// the mixer layout and the mixer predictor's shape. Cross-field checks that
// need the data (k against the class count, a sampler the dataset supports)
// happen here, before any training.
#pragma once

#include <memory>
#include <vector>

#include "data/dataset.h"
#include "data/loader.h"
#include "data/task_sampler.h"
#include "nn/resnet.h"
#include "taper/basis_mixing.h"
#include "taper/config.h"
#include "taper/mixer_predictor.h"
#include "taper/task_description.h"

namespace taper {

struct Experiment {
  RunConfig config;
  std::shared_ptr<const Dataset> train, test;
  ResNet arch;
  TaskSampler sampler;
  MixerLayout layout;
  MixerPredictor predictor;
  // The network input: the training images' size (read once), or for
  // variable-size datasets the crop side data.image_size.
  int64_t image_height = 0, image_width = 0;
  std::shared_ptr<const TaskDescriber> describer;  // tasks.description
  // Where training and evaluation compute (`taper train --device`); not part
  // of the config: a run's checkpoints are the same on any device, and a run
  // may be resumed on another.
  Device device = Device::cpu();

  static Experiment create(const RunConfig& config, Device device = Device::cpu());

  int64_t num_classes() const { return arch.config().num_classes; }
  // The task description the mixer predictor reads (taper/task_description.h).
  std::vector<float> describe(const Task& task) const;
  Tensor describe_all(const std::vector<Task>& tasks) const;  // [G, D]
  // CIFAR-style (padded crop + flip, CIFAR-100 normalization) for fixed-size
  // data; ImageNet-style (random-resized crop + flip; evaluation: resize to
  // eval_resize(side) + center crop; ImageNet normalization) when resized_crops().
  Transform transform(bool train) const;
  bool resized_crops() const;  // the dataset's images vary in size (data/catalog.h)
  // Loader options for training or evaluation; on a GPU they ask for
  // resident batches that equal transform(train)'s.
  LoaderOptions loader_options(int64_t batch, bool train) const;
  // The evaluation tasks: one per test image, fixed by tasks.eval_seed.
  std::vector<Task> eval_tasks() const;
};

// Rows [begin, end) of a batch, on its device (no gradient needed for inputs).
Tensor slice_rows(const Tensor& x, int64_t begin, int64_t end);

// The images at `indices` of `data` (in that order) through the run's
// evaluation transform, in batches of at most 256.
std::vector<Batch> decode_images(const Experiment& exp, std::shared_ptr<const Dataset> data,
                                 std::vector<int64_t> indices);

// A batch's images and labels on the experiment's device.
struct DeviceBatch {
  Tensor images, labels;
};
DeviceBatch to_device(const Batch& b, Device device);

// The network a config trains for `classes` classes, and the input side of a
// variable-size dataset (data.image_size; 0: the paper's 224).
ResNet make_arch(const RunConfig& c, int64_t classes);
int64_t crop_size(const RunConfig& c);

}  // namespace taper

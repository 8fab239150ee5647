// On-the-fly personalization (§3.3): from a task description to one
// condensed ResNet of basis size: mixed weights (equation 1) and mixed
// running statistics, keeping only the task's classifier rows. No training.
// The result is an ordinary network saved as safetensors with torchvision
// names; the class list, mixers and architecture go into its metadata so
// that the file alone classifies images.
#pragma once

#include <string>
#include <vector>

#include "taper/experiment.h"
#include "taper/stages.h"

namespace taper {

struct PersonalizedModel {
  ResNetConfig arch;  // num_classes = the task's k
  TensorMap params, buffers;
  std::vector<std::string> class_names;       // in classifier-row order
  std::vector<std::vector<float>> mixers;     // [blocks][Q]
  std::string domain;                         // empty when none
  int64_t input_size = 32;                    // side of the square images it was trained on
  // How `taper predict` prepares an image: "cifar" (resize + center crop to
  // input_size, CIFAR-100 normalization) or "imagenet" (resize to
  // eval_resize(input_size) + center crop, ImageNet normalization), as in evaluation.
  std::string preprocessing = "cifar";
};

// The task's mixers (alpha[block], each [Q]) and the network they mix, every
// classifier row kept: personalize() before classifier selection.
struct MixedNetwork {
  std::vector<Tensor> mixers;
  TensorMap params, buffers;
};
MixedNetwork mix_for_task(const Experiment& exp, const TaperModel& model, const Task& task);
// The same from a description of the mixer predictor's input size (free
// text, or zero-shot tasks of classes the run never saw).
MixedNetwork mix_for_description(const Experiment& exp, const TaperModel& model, const std::vector<float>& description);

PersonalizedModel personalize(const Experiment& exp, const TaperModel& model, const Task& task);
// The same from a given description (free language, taper/free_text.h)
// instead of exp's description of the task; the task still picks the
// classifier rows.
PersonalizedModel personalize(const Experiment& exp, const TaperModel& model, const Task& task,
                              const std::vector<float>& description);

void save_personalized(const std::string& path, const PersonalizedModel& model);
// Throws SafetensorsError naming the file for a corrupt file, missing
// metadata, or tensors that do not fit the architecture it names.
PersonalizedModel load_personalized(const std::string& path);

}  // namespace taper

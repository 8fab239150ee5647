// The datasets the harness and `taper dataset` know by name, found under
// the data root (data/README.md: where each comes from, its layout), and the
// task samplers that fit each.
//
//   cifar100         <root>/cifar-100-binary   100 classes, 20 super-categories
//   cifar100-styles  the same images, each in one of 6 synthetic domains (data/styles.h)
//   pacs             <root>/pacs-64            7 classes, 4 domains
//   imagenet         <root>/imagenet           1,000 wnids; test = val
//   inaturalist2021  <root>/inaturalist-2021   10,000 species, 11 super-categories; test = val
//   domainnet        <root>/domainnet          345 classes, 6 domains
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/task_sampler.h"

namespace taper {

const std::vector<std::string>& dataset_names();

// The dataset's folder under `root`. Throws DataError when it is missing,
// saying where it was looked for and how to get it (`make data` or
// data/README.md): reproduce checks every dataset it needs this way first.
std::string dataset_dir(const std::string& name, const std::string& root = data_root());

// split: "train" or "test" (ImageNet's and iNaturalist's "val"). Throws
// DataError when the files are missing, as dataset_dir() does.
Dataset load_dataset(const std::string& name, const std::string& split, const std::string& root = data_root());

// True for the file-backed datasets whose images vary in size (imagenet,
// inaturalist2021, domainnet): they are fed ImageNet-style, as random-resized
// crops of a fixed side (data/augment.h), not at their own size.
bool variable_image_size(const std::string& name);

// A dataset's full training split as known before anything is loaded, for
// pricing an epoch (reproduce --jobs orders its work by that): its classes,
// training images per class (an average where classes differ: PACS has 8,003
// in 7, iNaturalist 2021 about 2.7 M in 10,000) and the side the network
// sees (the variable-size datasets: the paper's 224-pixel crops). Throws
// DataError for an unknown name, as dataset_dir() does.
struct NominalSize {
  int64_t classes, train_per_class, side;
};
NominalSize nominal_size(const std::string& name);

// The samplers that make sense for a dataset (e.g. super-category needs
// super-categories, domain needs domains).
std::vector<TaskKind> task_kinds_for(const std::string& dataset, const ClassMetadata& meta);

// A sampler for this dataset; WordNet-nearest places the classes in Debian's
// WordNet 3.0 (data/class_hierarchy.h): CIFAR-100 through its committed
// class -> synset mapping, ImageNet through its wnids (meta.class_ids).
TaskSampler make_task_sampler(const std::string& dataset, const ClassMetadata& meta, TaskSamplerOptions options);

// Each class's WordNet definition (gloss without examples), in label order:
// the free-language descriptions of Table 7. Throws DataError for datasets
// without a class -> WordNet mapping (only cifar100 and cifar100-styles have one).
std::vector<std::string> class_definitions(const std::string& dataset, const ClassMetadata& meta);

}  // namespace taper

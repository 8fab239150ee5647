// The datasets the harness and `taper dataset` know by name, found under
// the data root, and the task samplers that fit each.
//
//   cifar100         <root>/cifar-100-binary   100 classes, 20 super-categories
//   cifar100-styles  the same, rendered in 6 synthetic domains (data/styles.h)
//   pacs             <root>/pacs-64            7 classes, 4 domains
#pragma once

#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/task_sampler.h"

namespace taper {

const std::vector<std::string>& dataset_names();

// split: "train" or "test". Throws DataError when the files are missing,
// saying where they were looked for and that `make data` fetches them.
Dataset load_dataset(const std::string& name, const std::string& split, const std::string& root = data_root());

// The samplers that make sense for a dataset (e.g. super-category needs
// super-categories, domain needs domains).
std::vector<TaskKind> task_kinds_for(const std::string& dataset, const ClassMetadata& meta);

// A sampler for this dataset; WordNet-nearest reads the class -> synset
// mapping (CIFAR-100 only) and Debian's WordNet.
TaskSampler make_task_sampler(const std::string& dataset, const ClassMetadata& meta, TaskSamplerOptions options);

// Each class's WordNet definition (gloss without examples), in label order:
// the free-language descriptions of Table 7. Throws DataError for datasets
// without a class -> WordNet mapping (only cifar100 and cifar100-styles have one).
std::vector<std::string> class_definitions(const std::string& dataset, const ClassMetadata& meta);

}  // namespace taper

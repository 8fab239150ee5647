#include "data/catalog.h"

#include <filesystem>

#include "data/cifar100.h"
#include "data/class_hierarchy.h"
#include "data/pacs.h"
#include "data/styles.h"
#include "data/wordnet.h"

namespace taper {

namespace {

// The styled copies are part of the dataset's definition: a fixed seed.
constexpr uint64_t kStyleSeed = 2023;

std::string require_dir(const std::string& root, const std::string& folder, const std::string& dataset) {
  const std::string dir = root + "/" + folder;
  if (!std::filesystem::is_directory(dir)) {
    throw DataError(dataset + ": " + dir + " not found (data root " + root +
                    ", set by $TAPER_DATA); `make data` links or downloads it");
  }
  return dir;
}

bool is_cifar100(const std::string& name) { return name == "cifar100" || name == "cifar100-styles"; }

}  // namespace

const std::vector<std::string>& dataset_names() {
  static const std::vector<std::string> names{"cifar100", "cifar100-styles", "pacs"};
  return names;
}

Dataset load_dataset(const std::string& name, const std::string& split, const std::string& root) {
  if (split != "train" && split != "test") throw DataError(name + ": unknown split '" + split + "' (train or test)");
  if (name == "cifar100") return load_cifar100(require_dir(root, "cifar-100-binary", name), split);
  if (name == "cifar100-styles") {
    return make_styled_dataset(load_cifar100(require_dir(root, "cifar-100-binary", name), split), all_styles(),
                               kStyleSeed);
  }
  if (name == "pacs") return load_pacs(require_dir(root, "pacs-64", name), split);
  std::string known;
  for (const auto& n : dataset_names()) known += (known.empty() ? "" : ", ") + n;
  throw DataError("unknown dataset '" + name + "' (known: " + known + ")");
}

std::vector<TaskKind> task_kinds_for(const std::string& dataset, const ClassMetadata& meta) {
  std::vector<TaskKind> kinds;
  if (is_cifar100(dataset)) kinds.push_back(TaskKind::WordNetNearest);
  if (!meta.super_names.empty()) kinds.push_back(TaskKind::SuperCategory);
  if (meta.domain_names.size() > 1) kinds.push_back(TaskKind::Domain);
  kinds.push_back(TaskKind::Uniform);
  return kinds;
}

namespace {
ClassHierarchy cifar100_hierarchy(const std::string& dataset, const ClassMetadata& meta, const char* purpose) {
  if (!is_cifar100(dataset)) {
    throw DataError(dataset + ": " + purpose + " need a class -> WordNet mapping, which only cifar100 has");
  }
  const WordNet wordnet;
  return make_class_hierarchy(wordnet, read_class_synsets(cifar100_wordnet_path(), meta.class_names, true));
}
}  // namespace

std::vector<std::string> class_definitions(const std::string& dataset, const ClassMetadata& meta) {
  return cifar100_hierarchy(dataset, meta, "WordNet definitions").glosses;
}

TaskSampler make_task_sampler(const std::string& dataset, const ClassMetadata& meta, TaskSamplerOptions options) {
  if (options.kind != TaskKind::WordNetNearest) return TaskSampler(meta, options);
  return TaskSampler(meta, options, cifar100_hierarchy(dataset, meta, "wordnet-nearest tasks").nearest);
}

}  // namespace taper

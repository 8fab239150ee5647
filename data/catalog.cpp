#include "data/catalog.h"

#include <filesystem>

#include "data/cifar100.h"
#include "data/class_hierarchy.h"
#include "data/domainnet.h"
#include "data/imagenet.h"
#include "data/inaturalist.h"
#include "data/pacs.h"
#include "data/styles.h"
#include "data/wordnet.h"

namespace taper {

namespace {

// The styled copies are part of the dataset's definition: a fixed seed.
constexpr uint64_t kStyleSeed = 2023;

bool is_cifar100(const std::string& name) { return name == "cifar100" || name == "cifar100-styles"; }

// `make data` links the team's copies or downloads CIFAR-100; the large
// datasets need a registration or a manual download.
bool fetched_by_make_data(const std::string& name) { return is_cifar100(name) || name == "pacs"; }

std::string folder_of(const std::string& name) {
  if (is_cifar100(name)) return "cifar-100-binary";
  if (name == "pacs") return "pacs-64";
  if (name == "imagenet") return "imagenet";
  if (name == "inaturalist2021") return "inaturalist-2021";
  if (name == "domainnet") return "domainnet";
  std::string known;
  for (const auto& n : dataset_names()) known += (known.empty() ? "" : ", ") + n;
  throw DataError("unknown dataset '" + name + "' (known: " + known + ")");
}

// ImageNet and iNaturalist publish no test labels: their val split is the test split.
std::string reader_split(const std::string& name, const std::string& split) {
  return split == "test" && (name == "imagenet" || name == "inaturalist2021") ? "val" : split;
}

}  // namespace

const std::vector<std::string>& dataset_names() {
  static const std::vector<std::string> names{"cifar100", "cifar100-styles", "pacs", "imagenet", "inaturalist2021",
                                              "domainnet"};
  return names;
}

std::string dataset_dir(const std::string& name, const std::string& root) {
  const std::string dir = root + "/" + folder_of(name);
  if (!std::filesystem::is_directory(dir)) {
    throw DataError(name + ": " + dir + " not found (data root " + root + ", set by $TAPER_DATA); " +
                    (fetched_by_make_data(name) ? "`make data` links or downloads it"
                                                : "data/README.md says where to download it and how to lay it out"));
  }
  return dir;
}

Dataset load_dataset(const std::string& name, const std::string& split, const std::string& root) {
  if (split != "train" && split != "test") throw DataError(name + ": unknown split '" + split + "' (train or test)");
  const std::string dir = dataset_dir(name, root), from = reader_split(name, split);
  if (name == "cifar100") return load_cifar100(dir, split);
  if (name == "cifar100-styles") return make_styled_dataset(load_cifar100(dir, split), all_styles(), kStyleSeed);
  if (name == "pacs") return load_pacs(dir, split);
  if (name == "imagenet") return load_imagenet(dir, from);
  if (name == "inaturalist2021") return load_inaturalist(dir, from);
  return load_domainnet(dir, split);
}

NominalSize nominal_size(const std::string& name) {
  folder_of(name);  // throws for an unknown name
  if (is_cifar100(name)) return {100, 500, 32};  // the styles draw each image once (data/styles.h)
  if (name == "pacs") return {7, 1143, 64};
  if (name == "imagenet") return {1000, 1281, 224};
  if (name == "inaturalist2021") return {10000, 269, 224};
  return {345, 1188, 224};  // domainnet: about 410,000 training images
}

bool variable_image_size(const std::string& name) {
  return name == "imagenet" || name == "inaturalist2021" || name == "domainnet";
}

std::vector<TaskKind> task_kinds_for(const std::string& dataset, const ClassMetadata& meta) {
  std::vector<TaskKind> kinds;
  if (is_cifar100(dataset) || dataset == "imagenet") kinds.push_back(TaskKind::WordNetNearest);
  if (!meta.super_names.empty()) kinds.push_back(TaskKind::SuperCategory);
  if (meta.domain_names.size() > 1) kinds.push_back(TaskKind::Domain);
  kinds.push_back(TaskKind::Uniform);
  return kinds;
}

namespace {
// Classes as WordNet synsets: CIFAR-100 through data/cifar100_wordnet.tsv,
// ImageNet through its wnids (WordNet 3.0 noun offsets).
ClassHierarchy class_hierarchy(const std::string& dataset, const ClassMetadata& meta, const char* purpose) {
  if (!is_cifar100(dataset) && dataset != "imagenet") {
    throw DataError(dataset + ": " + purpose + " need a class -> WordNet mapping, which only cifar100 and " +
                    "imagenet (its wnids) have");
  }
  const WordNet wordnet;
  return dataset == "imagenet"
             ? make_class_hierarchy(wordnet, meta.class_names, meta.class_ids)
             : make_class_hierarchy(wordnet, read_class_synsets(cifar100_wordnet_path(), meta.class_names, true));
}
}  // namespace

std::vector<std::string> class_definitions(const std::string& dataset, const ClassMetadata& meta) {
  return class_hierarchy(dataset, meta, "WordNet definitions").glosses;
}

TaskSampler make_task_sampler(const std::string& dataset, const ClassMetadata& meta, TaskSamplerOptions options) {
  if (options.kind != TaskKind::WordNetNearest) return TaskSampler(meta, options);
  return TaskSampler(meta, options, class_hierarchy(dataset, meta, "wordnet-nearest tasks").nearest);
}

}  // namespace taper

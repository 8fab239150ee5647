#include "data/imagenet.h"

#include <cstdio>
#include <filesystem>
#include <map>
#include <stdexcept>

#include "data/file_io.h"
#include "data/image_folder.h"

namespace taper {
namespace {

namespace fs = std::filesystem;

std::string resolve(const std::string& dir, const std::string& file) {
  return fs::path(file).is_absolute() ? file : join_path(dir, file);
}

std::string line_where(const std::string& path, size_t index) { return path + ": line " + std::to_string(index + 1); }

// class_ids (wnids) and class_names from "<wnid> <names>" lines.
void read_synsets(const std::string& path, ClassMetadata* meta) {
  const std::vector<std::string> lines = read_text_lines(path);
  std::map<std::string, size_t> line_of;
  for (size_t i = 0; i < lines.size(); ++i) {
    const size_t space = lines[i].find(' ');
    if (space == 0 || space == std::string::npos || space + 1 == lines[i].size()) {
      throw DataError(line_where(path, i) + ": expected '<wnid> <class names>'");
    }
    const std::string wnid = lines[i].substr(0, space);
    const auto [it, fresh] = line_of.emplace(wnid, i);
    if (!fresh) {
      throw DataError(line_where(path, i) + ": wnid " + wnid + " already on line " + std::to_string(it->second + 1));
    }
    meta->class_ids.push_back(wnid);
    meta->class_names.push_back(lines[i].substr(space + 1));
  }
}

std::map<std::string, int64_t> label_of_wnid(const ClassMetadata& meta) {
  std::map<std::string, int64_t> labels;
  for (size_t i = 0; i < meta.class_ids.size(); ++i) labels[meta.class_ids[i]] = static_cast<int64_t>(i);
  return labels;
}

// <folder>/<wnid>/* with exactly the synset list's wnids.
void read_class_folders(const std::string& folder, const ClassMetadata& meta, Dataset* data,
                        std::vector<std::string>* paths) {
  const std::map<std::string, int64_t> labels = label_of_wnid(meta);
  for (const std::string& name : list_subfolders(folder)) {
    if (labels.count(name) == 0) throw DataError(join_path(folder, name) + ": folder is not a wnid of the synset list");
  }
  for (size_t label = 0; label < meta.class_ids.size(); ++label) {
    const std::string class_dir = join_path(folder, meta.class_ids[label]);
    const std::vector<std::string> files = list_image_files(class_dir);
    if (files.empty()) throw DataError(class_dir + ": no images");
    for (const std::string& file : files) {
      paths->push_back(join_path(class_dir, file));
      data->labels.push_back(static_cast<int64_t>(label));
    }
  }
}

// ILSVRC2012_ID (1-based, line order) -> label, through the devkit wnid table.
std::vector<int64_t> read_devkit_labels(const std::string& path, const ClassMetadata& meta) {
  const std::map<std::string, int64_t> labels = label_of_wnid(meta);
  std::vector<int64_t> label_of_id;
  const std::vector<std::string> lines = read_text_lines(path);
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto it = labels.find(lines[i]);
    if (it == labels.end()) {
      throw DataError(line_where(path, i) + ": '" + lines[i] + "' is not a wnid of the synset list");
    }
    label_of_id.push_back(it->second);
  }
  return label_of_id;
}

std::string val_file_name(size_t index) {
  char name[64];
  std::snprintf(name, sizeof(name), "ILSVRC2012_val_%08zu.JPEG", index + 1);
  return name;
}

// Flat val/: line k of the ground truth labels ILSVRC2012_val_<k>.JPEG.
void read_flat_val(const std::string& dir, const ImageNetFiles& files, const ClassMetadata& meta, Dataset* data,
                   std::vector<std::string>* paths) {
  const std::string devkit = resolve(dir, files.devkit_wnids);
  std::error_code error;
  if (!fs::exists(devkit, error)) {
    throw DataError(devkit +
                    ": not found; flat val/ images need the devkit's ILSVRC2012_ID -> wnid table (data/README.md)");
  }
  const std::vector<int64_t> label_of_id = read_devkit_labels(devkit, meta);
  const std::string truth = resolve(dir, files.val_ground_truth);
  const std::vector<std::string> lines = read_text_lines(truth);
  for (size_t i = 0; i < lines.size(); ++i) {
    int64_t id = 0;
    if (!parse_int(lines[i], &id) || id < 1 || id > static_cast<int64_t>(label_of_id.size())) {
      throw DataError(line_where(truth, i) + ": '" + lines[i] + "' is not an ILSVRC2012_ID in 1.." +
                      std::to_string(label_of_id.size()));
    }
    const std::string image = join_path(join_path(dir, "val"), val_file_name(i));
    if (!fs::is_regular_file(image, error)) throw DataError(line_where(truth, i) + ": " + image + " does not exist");
    paths->push_back(image);
    data->labels.push_back(label_of_id[id - 1]);
  }
}

}  // namespace

Dataset load_imagenet(const std::string& dir, const std::string& split, const ImageNetFiles& files) {
  if (split != "train" && split != "val") {
    throw std::invalid_argument("load_imagenet: split '" + split + "' is not train or val");
  }
  Dataset data;
  data.name = "imagenet";
  data.split = split;
  read_synsets(resolve(dir, files.synsets), &data.meta);
  data.meta.domain_names = {"real"};
  const std::string folder = join_path(dir, split);
  std::vector<std::string> paths;
  if (split == "train" || !list_subfolders(folder).empty()) {
    read_class_folders(folder, data.meta, &data, &paths);
  } else {
    read_flat_val(dir, files, data.meta, &data, &paths);
  }
  data.domains.assign(data.labels.size(), 0);
  data.images = std::make_shared<FileImageStore>(std::move(paths));
  return data;
}

}  // namespace taper

#include "data/inaturalist.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <unordered_map>

#include "data/file_io.h"

namespace taper {
namespace {

using nlohmann::json;

// Field access that names the file and entry in every error.
class JsonFile {
 public:
  explicit JsonFile(std::string path) : path_(std::move(path)) {
    const std::vector<uint8_t> bytes = read_file_bytes(path_);
    try {
      root_ = json::parse(bytes.begin(), bytes.end());
    } catch (const json::parse_error& e) {
      throw DataError(path_ + ": malformed JSON at byte " + std::to_string(e.byte) + ": " + e.what());
    } catch (const json::exception& e) {  // e.g. out_of_range: a number beyond double (found by fuzzing)
      throw DataError(path_ + ": malformed JSON: " + e.what());
    }
    if (!root_.is_object()) fail("the top level", "is not an object");
  }

  const json& array(const std::string& key) const {
    const auto it = root_.find(key);
    if (it == root_.end() || !it->is_array()) fail("the top level", "has no array \"" + key + "\"");
    return *it;
  }

  int64_t integer(const json& entry, const std::string& key, const std::string& where) const {
    const json& value = field(entry, key, where);
    if (!value.is_number_integer()) fail(where, "\"" + key + "\" is not an integer");
    return value.get<int64_t>();
  }

  std::string string(const json& entry, const std::string& key, const std::string& where) const {
    const json& value = field(entry, key, where);
    if (!value.is_string() || value.get_ref<const std::string&>().empty()) {
      fail(where, "\"" + key + "\" is not a non-empty string");
    }
    return value.get<std::string>();
  }

  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw DataError(path_ + ": " + where + ": " + what);
  }

 private:
  const json& field(const json& entry, const std::string& key, const std::string& where) const {
    if (!entry.is_object()) fail(where, "is not an object");
    const auto it = entry.find(key);
    if (it == entry.end()) fail(where, "missing field \"" + key + "\"");
    return *it;
  }

  std::string path_;
  json root_;
};

std::string entry(const std::string& array, size_t index) { return array + "[" + std::to_string(index) + "]"; }

struct Category {
  int64_t id;
  std::string name, supercategory;
};

// Categories sorted by id -> class_names, class_ids, super_*; returns id -> label.
std::unordered_map<int64_t, int64_t> read_categories(const JsonFile& file, ClassMetadata* meta) {
  const json& categories = file.array("categories");
  std::vector<Category> sorted;
  for (size_t i = 0; i < categories.size(); ++i) {
    const std::string where = entry("categories", i);
    sorted.push_back({file.integer(categories[i], "id", where), file.string(categories[i], "name", where),
                      file.string(categories[i], "supercategory", where)});
  }
  if (sorted.empty()) file.fail("categories", "is empty");
  std::sort(sorted.begin(), sorted.end(), [](const Category& a, const Category& b) { return a.id < b.id; });
  std::map<std::string, int64_t> super_index;
  for (const Category& c : sorted) super_index.emplace(c.supercategory, 0);
  for (auto& [name, index] : super_index) {
    index = static_cast<int64_t>(meta->super_names.size());
    meta->super_names.push_back(name);
  }
  std::unordered_map<int64_t, int64_t> label_of_id;
  for (const Category& c : sorted) {
    if (!label_of_id.emplace(c.id, meta->num_classes()).second) {
      file.fail("categories", "duplicate id " + std::to_string(c.id));
    }
    meta->class_ids.push_back(std::to_string(c.id));
    meta->class_names.push_back(c.name);
    meta->super_of_class.push_back(super_index.at(c.supercategory));
  }
  return label_of_id;
}

// Image id -> position in "images"; fills the paths.
std::unordered_map<int64_t, size_t> read_images(const JsonFile& file, const std::string& dir,
                                                std::vector<std::string>* paths) {
  const json& images = file.array("images");
  std::unordered_map<int64_t, size_t> position_of_id;
  for (size_t i = 0; i < images.size(); ++i) {
    const std::string where = entry("images", i);
    const int64_t id = file.integer(images[i], "id", where);
    const auto [it, fresh] = position_of_id.emplace(id, i);
    if (!fresh) file.fail(where, "duplicate id " + std::to_string(id) + " (also " + entry("images", it->second) + ")");
    paths->push_back(join_path(dir, file.string(images[i], "file_name", where)));
  }
  return position_of_id;
}

// One label per image, in the order of "images".
std::vector<int64_t> read_annotations(const JsonFile& file, const std::unordered_map<int64_t, size_t>& position_of_id,
                                      const std::unordered_map<int64_t, int64_t>& label_of_category) {
  const json& annotations = file.array("annotations");
  std::vector<int64_t> labels(position_of_id.size(), -1);
  std::vector<size_t> annotation_of(position_of_id.size());
  for (size_t i = 0; i < annotations.size(); ++i) {
    const std::string where = entry("annotations", i);
    const int64_t image = file.integer(annotations[i], "image_id", where);
    const int64_t category = file.integer(annotations[i], "category_id", where);
    const auto position = position_of_id.find(image);
    if (position == position_of_id.end()) {
      file.fail(where, "image_id " + std::to_string(image) + " is not in \"images\"");
    }
    const auto label = label_of_category.find(category);
    if (label == label_of_category.end()) {
      file.fail(where, "category_id " + std::to_string(category) + " is not in \"categories\"");
    }
    if (labels[position->second] >= 0) {
      file.fail(where, "image " + std::to_string(image) + " is already annotated by " +
                           entry("annotations", annotation_of[position->second]));
    }
    labels[position->second] = label->second;
    annotation_of[position->second] = i;
  }
  const auto missing = std::find(labels.begin(), labels.end(), -1);
  if (missing != labels.end()) {
    file.fail(entry("images", static_cast<size_t>(missing - labels.begin())), "has no annotation");
  }
  return labels;
}

}  // namespace

Dataset load_inaturalist(const std::string& dir, const std::string& split) {
  if (split != "train" && split != "val") {
    throw std::invalid_argument("load_inaturalist: split '" + split + "' is not train or val");
  }
  const JsonFile file(join_path(dir, split + ".json"));
  Dataset data;
  data.name = "inaturalist";
  data.split = split;
  data.meta.domain_names = {"real"};
  const std::unordered_map<int64_t, int64_t> label_of_category = read_categories(file, &data.meta);
  std::vector<std::string> paths;
  const std::unordered_map<int64_t, size_t> position_of_id = read_images(file, dir, &paths);
  data.labels = read_annotations(file, position_of_id, label_of_category);
  data.domains.assign(data.labels.size(), 0);
  data.images = std::make_shared<FileImageStore>(std::move(paths));
  return data;
}

}  // namespace taper

#include "data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "data/file_io.h"

namespace taper {
namespace {

namespace fs = std::filesystem;

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// Sorted names of the visible entries of dir for which keep(entry) holds.
template <typename Keep>
std::vector<std::string> list_folder(const std::string& dir, Keep keep) {
  std::error_code error;
  fs::directory_iterator it(dir, error);
  if (error) throw DataError(dir + ": cannot list folder: " + error.message());
  std::vector<std::string> names;
  for (; it != fs::directory_iterator(); it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (name[0] != '.' && keep(*it)) names.push_back(name);
  }
  if (error) throw DataError(dir + ": cannot list folder: " + error.message());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

bool is_image_file_name(const std::string& name) {
  const std::string extension = lower(fs::path(name).extension().string());
  return extension == ".jpg" || extension == ".jpeg" || extension == ".png";
}

std::vector<std::string> list_subfolders(const std::string& dir) {
  return list_folder(dir, [](const fs::directory_entry& entry) {
    std::error_code error;
    return entry.is_directory(error);
  });
}

std::vector<std::string> list_image_files(const std::string& dir) {
  return list_folder(dir, [](const fs::directory_entry& entry) {
    std::error_code error;
    return entry.is_regular_file(error) && is_image_file_name(entry.path().filename().string());
  });
}

ImageFolder scan_image_folder(const std::string& root) {
  ImageFolder folder;
  folder.class_names = list_subfolders(root);
  if (folder.class_names.empty()) throw DataError(root + ": no class folders");
  for (size_t label = 0; label < folder.class_names.size(); ++label) {
    const std::string class_dir = join_path(root, folder.class_names[label]);
    const std::vector<std::string> files = list_image_files(class_dir);
    if (files.empty()) throw DataError(class_dir + ": no .jpg, .jpeg or .png images");
    for (const std::string& file : files) {
      folder.paths.push_back(join_path(class_dir, file));
      folder.labels.push_back(static_cast<int64_t>(label));
    }
  }
  return folder;
}

std::shared_ptr<const ImageStore> decode_all(const std::vector<std::string>& paths) {
  if (paths.empty()) return std::make_shared<FileImageStore>(paths);
  const Image first = read_image(paths[0]);
  // Appended as decoded (not sized from the first header up front), so
  // memory follows the pixels that really exist.
  std::vector<uint8_t> pixels = first.pixels;
  bool same_size = true;
  for (size_t i = 1; i < paths.size(); ++i) {
    const Image image = read_image(paths[i]);
    same_size = same_size && image.height == first.height && image.width == first.width;
    if (same_size) pixels.insert(pixels.end(), image.pixels.begin(), image.pixels.end());
  }
  if (!same_size) return std::make_shared<FileImageStore>(paths);
  return std::make_shared<MemoryImageStore>(static_cast<int64_t>(paths.size()), first.height, first.width,
                                            std::move(pixels));
}

Dataset load_image_folder(const std::string& root, const std::string& split) {
  ImageFolder folder = scan_image_folder(root);
  Dataset data;
  data.name = "image_folder";
  data.split = split;
  data.meta.class_names = std::move(folder.class_names);
  data.meta.domain_names = {"real"};
  data.labels = std::move(folder.labels);
  data.domains.assign(data.labels.size(), 0);
  data.images = std::make_shared<FileImageStore>(std::move(folder.paths));
  return data;
}

}  // namespace taper

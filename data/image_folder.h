// Image folders: <root>/<class>/<file> trees as used by ImageNet, PACS and
// most user datasets. Listings are sorted as byte strings (C locale), so
// labels and order never depend on the filesystem or the locale. Only
// .jpg/.jpeg/.png files (any case) count; names starting with '.' (macOS
// "._x.jpg" resource forks, .DS_Store) are skipped.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace taper {

struct ImageFolder {
  std::vector<std::string> class_names;  // sorted sub-folder names; index = label
  std::vector<std::string> paths;        // "<root>/<class>/<file>", by class, then file name
  std::vector<int64_t> labels;
};

bool is_image_file_name(const std::string& name);

// Sorted names of the sub-folders of dir; DataError if dir is not a folder.
std::vector<std::string> list_subfolders(const std::string& dir);
// Sorted names of the image files in dir; DataError if dir is not a folder.
std::vector<std::string> list_image_files(const std::string& dir);

// DataError if root has no class folder or a class folder has no image.
ImageFolder scan_image_folder(const std::string& root);

// Decodes every file now, so a bad file fails at load time: one
// MemoryImageStore when all images share a size, else a FileImageStore
// (which decodes again on demand).
std::shared_ptr<const ImageStore> decode_all(const std::vector<std::string>& paths);

// Any image folder as a dataset (one "real" domain), decoded on demand.
Dataset load_image_folder(const std::string& root, const std::string& split);

}  // namespace taper

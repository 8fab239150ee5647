// A labelled image collection (one split of one dataset) with its class
// metadata. Small datasets keep every image decoded in memory; large ones
// keep paths and decode on demand (the loader's worker threads do that).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "data/image.h"

namespace taper {

struct ClassMetadata {
  std::vector<std::string> class_names;   // index = label
  std::vector<std::string> super_names;   // CIFAR-100 coarse classes, iNaturalist supercategories; may be empty
  std::vector<int64_t> super_of_class;    // label -> index into super_names (empty when there are none)
  std::vector<std::string> domain_names;  // PACS / DomainNet / styles; one "real" domain otherwise
  std::vector<std::string> class_ids;     // dataset-native ids (ImageNet wnids, iNat ids); may be empty

  int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }
};

// Where the pixels of a dataset live.
class ImageStore {
 public:
  virtual ~ImageStore() = default;
  virtual int64_t size() const = 0;
  virtual Image image(int64_t index) const = 0;  // thread-safe
  // True when image() reads files (too many to hold decoded on a device).
  virtual bool decodes_files() const { return false; }
};

// Fixed-size images held in memory as one HWC byte array (CIFAR, styles).
class MemoryImageStore final : public ImageStore {
 public:
  MemoryImageStore(int64_t count, int64_t height, int64_t width, std::vector<uint8_t> pixels);
  int64_t size() const override { return count_; }
  Image image(int64_t index) const override;
  const uint8_t* data(int64_t index) const { return pixels_.data() + index * height_ * width_ * 3; }
  int64_t height() const { return height_; }
  int64_t width() const { return width_; }

 private:
  int64_t count_, height_, width_;
  std::vector<uint8_t> pixels_;
};

// Image files decoded on demand.
class FileImageStore final : public ImageStore {
 public:
  explicit FileImageStore(std::vector<std::string> paths) : paths_(std::move(paths)) {}
  int64_t size() const override { return static_cast<int64_t>(paths_.size()); }
  Image image(int64_t index) const override { return read_image(paths_.at(index)); }
  bool decodes_files() const override { return true; }
  const std::string& path(int64_t index) const { return paths_.at(index); }

 private:
  std::vector<std::string> paths_;
};

struct Dataset {
  std::string name;   // "cifar100", "pacs", "imagenet", ...
  std::string split;  // "train", "test", "val"
  ClassMetadata meta;
  std::vector<int64_t> labels;   // one per image
  std::vector<int64_t> domains;  // one per image (all 0 when single-domain)
  std::shared_ptr<const ImageStore> images;

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
};

// The data root: $TAPER_DATA if set, else ./data.
std::string data_root();

}  // namespace taper

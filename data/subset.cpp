#include "data/subset.h"

#include <algorithm>

#include "engine/tensor.h"

namespace taper {

namespace {
class IndexedImageStore final : public ImageStore {
 public:
  IndexedImageStore(std::shared_ptr<const ImageStore> base, std::vector<int64_t> indices)
      : base_(std::move(base)), indices_(std::move(indices)) {}
  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }
  Image image(int64_t index) const override { return base_->image(indices_.at(index)); }
  bool decodes_files() const override { return base_->decodes_files(); }

 private:
  std::shared_ptr<const ImageStore> base_;
  std::vector<int64_t> indices_;
};
}  // namespace

Dataset select_images(const Dataset& data, const std::vector<int64_t>& indices) {
  Dataset out;
  out.name = data.name;
  out.split = data.split;
  out.meta = data.meta;
  for (int64_t i : indices) {
    check_arg(0 <= i && i < data.size(), "select_images",
              [&] { return "index " + std::to_string(i) + " out of range"; });
    out.labels.push_back(data.labels[i]);
    out.domains.push_back(data.domains.empty() ? 0 : data.domains[i]);
  }
  out.images = std::make_shared<IndexedImageStore>(data.images, indices);
  return out;
}

Dataset subset(const Dataset& data, int64_t classes, int64_t per_class) {
  const int64_t total = data.meta.num_classes();
  check_arg(classes >= 0 && classes <= total, "subset", [&] {
    return "asked for " + std::to_string(classes) + " classes, " + data.name + " has " + std::to_string(total);
  });
  const int64_t kept = classes == 0 ? total : classes;
  // The per-class budget is split evenly over the domains, so that a limited
  // PACS subset still holds every domain (its files are stored domain by domain).
  const int64_t domains = std::max<int64_t>(1, static_cast<int64_t>(data.meta.domain_names.size()));
  const int64_t per_cell = per_class == 0 ? 0 : (per_class + domains - 1) / domains;
  std::vector<int64_t> taken(kept * domains, 0), indices;
  for (int64_t i = 0; i < data.size(); ++i) {
    const int64_t c = data.labels[i];
    if (c >= kept) continue;
    int64_t& cell = taken[c * domains + (data.domains.empty() ? 0 : data.domains[i])];
    if (per_cell == 0 || cell < per_cell) {
      ++cell;
      indices.push_back(i);
    }
  }
  Dataset out = select_images(data, indices);
  ClassMetadata& m = out.meta;
  m.class_names.resize(kept);
  if (!m.super_of_class.empty()) m.super_of_class.resize(kept);
  if (!m.class_ids.empty()) m.class_ids.resize(kept);
  return out;
}

std::vector<int64_t> images_of(const Dataset& data, const std::vector<int64_t>& classes, int64_t domain) {
  std::vector<bool> wanted(data.meta.num_classes(), false);
  for (int64_t c : classes) wanted.at(c) = true;
  std::vector<int64_t> out;
  for (int64_t i = 0; i < data.size(); ++i) {
    const bool in_domain = domain < 0 || (data.domains.empty() ? 0 : data.domains[i]) == domain;
    if (wanted[data.labels[i]] && in_domain) out.push_back(i);
  }
  return out;
}

}  // namespace taper

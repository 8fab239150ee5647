// Synthetic domains: CIFAR-100 re-rendered in deterministic styles, the
// stand-in for DomainNet's domains (DESIGN.md §5). Same labels, different
// looks; each rendering is a pure function of (image, style, seed, index).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace taper {

// Named after DomainNet's domains; Real is the unchanged image.
enum class Style { Real, Sketch, Painting, Clipart, Quickdraw, Infograph };

// Every style, in enum order, and their names ("real", "sketch", ...).
const std::vector<Style>& all_styles();
const std::vector<std::string>& style_names();
const std::string& style_name(Style style);
Style style_from_name(const std::string& name);  // throws DataError for an unknown name

// Renders `image` (RGB, any size) in `style`. The random parts (paper grain,
// tint, canvas, wobble, palette, overlays) come from Generator(seed) forked
// by style and `index`, so the same (seed, index) gives the same bytes on any
// thread. Sketch and Quickdraw are grey (R = G = B). Output size = input size.
Image render_style(const Image& image, Style style, uint64_t seed, int64_t index);

// Renders on demand: the styled CIFAR-100 train split held eagerly would be
// another 150 MB of pixels, while rendering one 32x32 image takes 20-150
// microseconds. Index i is base image i drawn in style_of_image[i].
class StyledImageStore final : public ImageStore {
 public:
  StyledImageStore(std::shared_ptr<const ImageStore> base, std::vector<Style> style_of_image, uint64_t seed);
  int64_t size() const override { return base_->size(); }
  Image image(int64_t index) const override;
  bool decodes_files() const override { return base_->decodes_files(); }

 private:
  std::shared_ptr<const ImageStore> base_;
  std::vector<Style> style_of_image_;
  uint64_t seed_;
};

// Every image of `base` once, in one of `styles`: the r-th image of a class
// (in base order) is drawn in styles[r % styles.size()]. Like DomainNet's
// domains, no two domains show the same picture, every image is used, and
// each (class, domain) cell holds an equal share of the class, give or take
// one. Labels as in base, domain = position in `styles`, meta.domain_names =
// their names, name = base.name + "-styles". Images are a StyledImageStore.
Dataset make_styled_dataset(const Dataset& base, const std::vector<Style>& styles, uint64_t seed);

}  // namespace taper

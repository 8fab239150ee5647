// Views of a dataset restricted to some images: the first N classes (tiny
// scales), at most M images per class, one stage-2 shard. Pixels are not
// copied; labels are remapped when classes are dropped.
#pragma once

#include <cstdint>
#include <vector>

#include "data/dataset.h"

namespace taper {

// The images at `indices` (in that order), same classes and labels.
Dataset select_images(const Dataset& data, const std::vector<int64_t>& indices);

// Keeps classes [0, classes) (0: all) and the first `per_class` images of
// each (0: all), in dataset order, split evenly over the domains. Class metadata is cut to the kept
// classes; super-categories and domains keep their indices.
Dataset subset(const Dataset& data, int64_t classes, int64_t per_class);

// Indices of the images whose label is in `classes` (and, when domain >= 0,
// whose domain is `domain`).
std::vector<int64_t> images_of(const Dataset& data, const std::vector<int64_t>& classes, int64_t domain = -1);

}  // namespace taper

// Pictures of a dataset for looking at (`taper dataset NAME --preview FILE`):
// results/figures/cifar100-styles.png and pacs-64-domains.png.
#pragma once

#include <cstdint>
#include <vector>

#include "data/dataset.h"
#include "data/image.h"

namespace taper {

// One row per domain (a single row for a single-domain dataset): the first
// image, in dataset order, of each of `columns` classes spread evenly over
// the label range, in that domain. A class missing from a domain is left out
// of its row. Throws std::invalid_argument for columns < 1 or an empty dataset.
std::vector<std::vector<Image>> domain_preview_rows(const Dataset& d, int64_t columns);

// Tiles rows of images into one picture: every image is upscaled `scale`
// times with nearest neighbour into a cell as large as the largest image,
// cells separated by a grey gap. Throws std::invalid_argument on an empty
// grid, a non-RGB image or scale < 1.
Image preview_grid(const std::vector<std::vector<Image>>& rows, int64_t scale);

}  // namespace taper

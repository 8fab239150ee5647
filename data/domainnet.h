// DomainNet (Peng et al., "Moment Matching for Multi-Source Domain
// Adaptation", ICCV 2019; http://ai.bu.edu/M3SDA/) as unpacked from the
// official per-domain zips and split lists:
//   <dir>/<domain>/<class>/*.jpg               e.g. clipart/aircraft_carrier/clipart_001_000018.jpg
//   <dir>/<domain>_train.txt, <domain>_test.txt  lines "<domain>/<class>/<file> <label>"
// Labels come from the lists (0..344 in the full set); each label's class
// name is the <class> folder of its lines, and label and name must agree on
// every line of every list read. Domain index = position in `domains`.
#pragma once

#include <string>
#include <vector>

#include "data/dataset.h"

namespace taper {

// clipart, infograph, painting, quickdraw, real, sketch.
const std::vector<std::string>& domainnet_domains();

// split: "train" or "test". Every list line must name an existing image;
// the labels over the lists read must be exactly 0..N-1. Images are decoded
// on demand (FileImageStore). Throws DataError naming the list and line.
Dataset load_domainnet(const std::string& dir, const std::string& split,
                       const std::vector<std::string>& domains = domainnet_domains());

}  // namespace taper

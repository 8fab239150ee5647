// iNaturalist 2021 (https://github.com/visipedia/inat_comp/tree/master/2021)
// as unpacked from the official archives:
//   <dir>/train.json, <dir>/val.json   COCO-style: "images" [{id, file_name}],
//       "annotations" [{image_id, category_id}] (exactly one per image),
//       "categories" [{id, name, supercategory}] (other fields are ignored)
//   <dir>/<file_name>                  e.g. train/00000_Animalia_..._Lumbricus_terrestris/<uuid>.jpg
// Classes are the categories sorted by id (class_ids holds the ids as text),
// super-classes the distinct supercategories sorted by name ("Amphibians"
// ... "Reptiles"). Images are decoded on demand (FileImageStore); their files
// are not checked at load time (2.7M stats), so a missing one is reported,
// with its path, when it is decoded.
#pragma once

#include <string>

#include "data/dataset.h"

namespace taper {

// split: "train" or "val" (reads <split>.json). Throws DataError naming the
// JSON file and the offending entry (e.g. "annotations[12]").
Dataset load_inaturalist(const std::string& dir, const std::string& split);

}  // namespace taper

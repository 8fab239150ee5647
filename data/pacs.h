// PACS (Li et al., "Deeper, Broader and Artier Domain Generalization",
// ICCV 2017) in the layout of ../shared/data/pacs-64 (see its SOURCE.md):
//   <dir>/<domain>/<class>/<file>   domains art_painting, cartoon, photo, sketch;
//                                   classes dog ... person (7)
//   <dir>/split.tsv                 header "path<TAB>split", then one line
//                                   "<domain>/<class>/<file><TAB>train|test" per image
// Domains and classes are the sub-folders, sorted. split.tsv must list every
// image exactly once and name only existing files.
#pragma once

#include <string>

#include "data/dataset.h"

namespace taper {

// split: "train", "test" or "all" (the whole set, for PACS's usual
// leave-one-domain-out protocol, which selects by domain instead).
// The images are decoded now and kept in memory (a MemoryImageStore when
// they share one size, as pacs-64's 64x64 images do). Throws DataError
// naming the file and split.tsv line.
Dataset load_pacs(const std::string& dir, const std::string& split);

}  // namespace taper

// ImageNet-1k (ILSVRC2012, https://image-net.org/challenges/LSVRC/2012/)
// as unpacked from the official archives:
//   <dir>/train/<wnid>/*.JPEG        ILSVRC2012_img_train.tar (one tar per wnid)
//   <dir>/val/ILSVRC2012_val_00000001.JPEG ... ILSVRC2012_img_val.tar (flat)
//   <dir>/LOC_synset_mapping.txt     the synset list, one "n01440764 tench, Tinca tinca"
//                                    per line; its order is the class order (labels)
//   <dir>/ILSVRC2012_validation_ground_truth.txt   from ILSVRC2012_devkit_t12.tar.gz
//                                    (data/): line k = the ILSVRC2012_ID of val image k
//   <dir>/ILSVRC2012_devkit_wnids.txt  one wnid per line, line i = ILSVRC2012_ID i
//
// The ground-truth ids are NOT positions in the sorted wnid list: they index
// the devkit's data/meta.mat synsets (ILSVRC2012_ID 1..1000 = the leaf synsets
// in the devkit's own order, e.g. id 1 is n02119789 "kit fox" while the
// sorted list starts with n01440764 "tench"). So flat validation images need
// the id -> wnid table from meta.mat, which this reader takes as the plain
// text file devkit_wnids (data/README.md shows a one-line way to write it).
// Alternatively val/ may already be sorted into val/<wnid>/ folders (the
// common valprep.sh layout); then neither file is needed.
//
// The synset list's wnids define the classes (class_ids) in file order, and
// its text after the wnid is the class name (all lemmas, comma-separated).
// Images are decoded on demand (FileImageStore).
#pragma once

#include <string>

#include "data/dataset.h"

namespace taper {

// File names; relative ones are relative to the dataset folder.
struct ImageNetFiles {
  std::string synsets = "LOC_synset_mapping.txt";
  std::string val_ground_truth = "ILSVRC2012_validation_ground_truth.txt";
  std::string devkit_wnids = "ILSVRC2012_devkit_wnids.txt";
};

// split: "train" or "val". Throws DataError naming the file and line.
Dataset load_imagenet(const std::string& dir, const std::string& split, const ImageNetFiles& files = {});

}  // namespace taper

// CIFAR-100 (Krizhevsky, 2009) in the official binary layout, as unpacked
// from https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz:
//   <dir>/train.bin, <dir>/test.bin   records of 3074 bytes: coarse label
//       (0-19), fine label (0-99), then 3072 pixel bytes: 1024 R, 1024 G,
//       1024 B, each a 32x32 image row by row;
//   <dir>/fine_label_names.txt        100 names, one per line (fine label order);
//   <dir>/coarse_label_names.txt      20 names, one per line (coarse label order).
// The pixels are kept in memory as HWC (a MemoryImageStore of 32x32 images).
#pragma once

#include <string>

#include "data/dataset.h"

namespace taper {

// split: "train" or "test". Fills class_names (fine), super_names (coarse)
// and super_of_class; one "real" domain. Throws DataError naming the file
// and, for bad records, the 0-based record index.
Dataset load_cifar100(const std::string& dir, const std::string& split);

}  // namespace taper

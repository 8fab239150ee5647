// libFuzzer target: iNaturalist-2021 COCO-style JSON (data/inaturalist.cpp).
// The input is written as <scratch>/train.json. Every input must load into a
// dataset whose labels and super-classes are in range, or throw DataError.
#include <cstdint>
#include <cstdlib>

#include "data/inaturalist.h"
#include "fuzz/scratch_dir.h"

using namespace taper;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::write_scratch("train.json", data, size);
  try {
    const Dataset d = load_inaturalist(fuzz::scratch_dir(), "train");
    const int64_t classes = d.meta.num_classes();
    if (d.meta.super_of_class.size() != static_cast<size_t>(classes)) std::abort();
    for (int64_t s : d.meta.super_of_class) {
      if (s < 0 || s >= static_cast<int64_t>(d.meta.super_names.size())) std::abort();
    }
    for (int64_t label : d.labels) {
      if (label < 0 || label >= classes) std::abort();
    }
    if (d.images->size() != d.size()) std::abort();
  } catch (const DataError&) {
  }
  return 0;
}

// libFuzzer target: the PACS split list, split.tsv (data/pacs.cpp), over a
// fixed tree of four 2x2 PNGs (<domain>/<class>/<n>.png, two domains, two
// classes). The input is written as split.tsv. Every input must load into a
// dataset with labels and domains in range or throw DataError.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "data/image.h"
#include "data/pacs.h"
#include "fuzz/scratch_dir.h"

using namespace taper;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  Image image(2, 2);
  for (const char* file : {"art/cat/1.png", "art/dog/1.png", "photo/cat/1.png", "photo/dog/2.png"}) {
    image.pixels[0] += 40;
    write_png(fuzz::scratch_path(std::string("pacs/") + file), image);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::write_scratch("pacs/split.tsv", data, size);
  try {
    const Dataset d = load_pacs(fuzz::scratch_path("pacs"), "all");
    if (d.size() != 4 || d.images->size() != d.size() || d.domains.size() != d.labels.size()) std::abort();
    for (size_t i = 0; i < d.labels.size(); ++i) {
      if (d.labels[i] < 0 || d.labels[i] > 1 || d.domains[i] < 0 || d.domains[i] > 1) std::abort();
    }
  } catch (const DataError&) {
  }
  return 0;
}

// libFuzzer target: DomainNet split lists (data/domainnet.cpp). The input is
// two lists, for domains clipart and sketch, separated by the first NUL
// byte; they name files of a fixed tree (<domain>/{cat,dog}/<n>.jpg).
// Every input must load into a dataset with labels 0..N-1 or throw DataError.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "data/domainnet.h"
#include "fuzz/scratch_dir.h"

using namespace taper;

namespace {
const std::vector<std::string> kDomains = {"clipart", "sketch"};
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  for (const std::string& domain : kDomains) {
    for (const char* file : {"/cat/1.jpg", "/cat/2.jpg", "/dog/1.jpg"}) {
      write_file_bytes(fuzz::scratch_path("domainnet/" + domain + file), {0xFF, 0xD8, 0xFF});
    }
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const uint8_t* end = data + size;
  const uint8_t* split = std::find(data, end, uint8_t{0});
  fuzz::write_scratch("domainnet/clipart_train.txt", data, split - data);
  const uint8_t* second = split == end ? end : split + 1;
  fuzz::write_scratch("domainnet/sketch_train.txt", second, end - second);
  try {
    const Dataset d = load_domainnet(fuzz::scratch_path("domainnet"), "train", kDomains);
    const int64_t classes = d.meta.num_classes();
    if (d.images->size() != d.size() || d.domains.size() != d.labels.size()) std::abort();
    for (size_t i = 0; i < d.labels.size(); ++i) {
      if (d.labels[i] < 0 || d.labels[i] >= classes || d.domains[i] < 0 || d.domains[i] > 1) std::abort();
    }
  } catch (const DataError&) {
  }
  return 0;
}

// libFuzzer target: CIFAR-100 binary records (data/cifar100.cpp). The loader
// reads a folder; the input becomes the tail of train.bin after one valid
// record per fine class (so that inputs can also load successfully: every
// class must occur), beside fixed label-name files.
// Every input must load, with labels in range, or throw DataError.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "data/cifar100.h"
#include "data/file_io.h"
#include "fuzz/scratch_dir.h"

using namespace taper;

namespace {
constexpr size_t kRecordBytes = 3074;

std::string names(const std::string& prefix, int count) {
  std::string text;
  for (int i = 0; i < count; ++i) text += prefix + std::to_string(i) + "\n";
  return text;
}

const std::vector<uint8_t>& valid_prefix() {
  static const std::vector<uint8_t> prefix = [] {
    std::vector<uint8_t> bytes(100 * kRecordBytes);
    for (size_t fine = 0; fine < 100; ++fine) {
      uint8_t* record = bytes.data() + fine * kRecordBytes;
      record[0] = static_cast<uint8_t>(fine / 5);
      record[1] = static_cast<uint8_t>(fine);
      for (size_t p = 2; p < kRecordBytes; ++p) record[p] = static_cast<uint8_t>(fine + p);
    }
    return bytes;
  }();
  return prefix;
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const std::string fine = names("fine", 100), coarse = names("coarse", 20);
  write_file_bytes(fuzz::scratch_path("fine_label_names.txt"), std::vector<uint8_t>(fine.begin(), fine.end()));
  write_file_bytes(fuzz::scratch_path("coarse_label_names.txt"), std::vector<uint8_t>(coarse.begin(), coarse.end()));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> file = valid_prefix();
  file.insert(file.end(), data, data + size);
  write_file_bytes(fuzz::scratch_path("train.bin"), file);
  try {
    const Dataset d = load_cifar100(fuzz::scratch_dir(), "train");
    if (d.size() != static_cast<int64_t>(file.size() / kRecordBytes) || d.images->size() != d.size()) std::abort();
    for (int64_t label : d.labels) {
      if (label < 0 || label >= 100) std::abort();
    }
  } catch (const DataError&) {
  }
  return 0;
}

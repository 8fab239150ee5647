#include "data/cifar100.h"

#include <map>
#include <stdexcept>

#include "data/file_io.h"

namespace taper {
namespace {

constexpr int64_t kFineClasses = 100;
constexpr int64_t kCoarseClasses = 20;
constexpr int64_t kSide = 32;
constexpr int64_t kPixelBytes = 3 * kSide * kSide;
constexpr int64_t kRecordBytes = 2 + kPixelBytes;

// Exactly `count` non-empty, distinct names (trailing empty lines allowed).
std::vector<std::string> read_label_names(const std::string& path, int64_t count) {
  std::vector<std::string> names = read_text_lines(path);
  if (static_cast<int64_t>(names.size()) != count) {
    throw DataError(path + ": " + std::to_string(names.size()) + " names, expected " + std::to_string(count));
  }
  std::map<std::string, size_t> line_of;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string line = "line " + std::to_string(i + 1);
    if (names[i].empty()) throw DataError(path + ": " + line + " is empty, expected a class name");
    const auto [it, fresh] = line_of.emplace(names[i], i + 1);
    if (!fresh) {
      throw DataError(path + ": " + line + ": duplicate name '" + names[i] + "' (also line " +
                      std::to_string(it->second) + ")");
    }
  }
  return names;
}

std::string record_where(const std::string& path, int64_t record) {
  return path + ": record " + std::to_string(record);
}

int64_t record_count(const std::string& path, size_t size) {
  const auto bytes = static_cast<int64_t>(size);
  if (bytes % kRecordBytes != 0) {
    throw DataError(path + ": truncated: " + std::to_string(bytes) + " bytes is not a whole number of " +
                    std::to_string(kRecordBytes) + "-byte records; record " + std::to_string(bytes / kRecordBytes) +
                    " is short");
  }
  return bytes / kRecordBytes;
}

// Planar RRR..GGG..BBB to interleaved RGBRGB..
void planar_to_hwc(const uint8_t* planar, uint8_t* hwc) {
  const int64_t plane = kSide * kSide;
  for (int64_t p = 0; p < plane; ++p) {
    for (int64_t c = 0; c < 3; ++c) hwc[3 * p + c] = planar[c * plane + p];
  }
}

// The fine -> coarse map, which must be the same in every record.
class CoarseOfFine {
 public:
  CoarseOfFine(const std::string& path, const std::vector<std::string>& fine_names)
      : path_(path), fine_names_(fine_names) {}

  void add(int64_t record, int64_t fine, int64_t coarse) {
    if (coarse_[fine] < 0) {
      coarse_[fine] = coarse;
      first_record_[fine] = record;
    } else if (coarse_[fine] != coarse) {
      throw DataError(record_where(path_, record) + ": fine class " + describe(fine) + " has coarse label " +
                      std::to_string(coarse) + ", but record " + std::to_string(first_record_[fine]) + " gave it " +
                      std::to_string(coarse_[fine]));
    }
  }

  // Every fine class must have occurred, else its coarse class is unknown.
  std::vector<int64_t> finish() const {
    for (int64_t fine = 0; fine < kFineClasses; ++fine) {
      if (coarse_[fine] < 0) throw DataError(path_ + ": fine class " + describe(fine) + " has no record");
    }
    return coarse_;
  }

 private:
  std::string describe(int64_t fine) const { return std::to_string(fine) + " (" + fine_names_[fine] + ")"; }

  const std::string& path_;
  const std::vector<std::string>& fine_names_;
  std::vector<int64_t> coarse_ = std::vector<int64_t>(kFineClasses, -1);
  std::vector<int64_t> first_record_ = std::vector<int64_t>(kFineClasses, -1);
};

}  // namespace

Dataset load_cifar100(const std::string& dir, const std::string& split) {
  if (split != "train" && split != "test") {
    throw std::invalid_argument("load_cifar100: split '" + split + "' is not train or test");
  }
  Dataset data;
  data.name = "cifar100";
  data.split = split;
  data.meta.class_names = read_label_names(join_path(dir, "fine_label_names.txt"), kFineClasses);
  data.meta.super_names = read_label_names(join_path(dir, "coarse_label_names.txt"), kCoarseClasses);
  data.meta.domain_names = {"real"};

  const std::string path = join_path(dir, split + ".bin");
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  const int64_t count = record_count(path, bytes.size());
  std::vector<uint8_t> pixels(static_cast<size_t>(count * kPixelBytes));
  CoarseOfFine coarse_of_fine(path, data.meta.class_names);
  for (int64_t r = 0; r < count; ++r) {
    const uint8_t* record = bytes.data() + r * kRecordBytes;
    const int64_t coarse = record[0], fine = record[1];
    if (coarse >= kCoarseClasses) {
      throw DataError(record_where(path, r) + ": coarse label byte " + std::to_string(coarse) + ", expected 0-19");
    }
    if (fine >= kFineClasses) {
      throw DataError(record_where(path, r) + ": fine label byte " + std::to_string(fine) + ", expected 0-99");
    }
    coarse_of_fine.add(r, fine, coarse);
    data.labels.push_back(fine);
    planar_to_hwc(record + 2, pixels.data() + r * kPixelBytes);
  }
  data.meta.super_of_class = coarse_of_fine.finish();
  data.domains.assign(static_cast<size_t>(count), 0);
  data.images = std::make_shared<MemoryImageStore>(count, kSide, kSide, std::move(pixels));
  return data;
}

}  // namespace taper

#include "data/dataset.h"

#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace taper {

MemoryImageStore::MemoryImageStore(int64_t count, int64_t height, int64_t width, std::vector<uint8_t> pixels)
    : count_(count), height_(height), width_(width), pixels_(std::move(pixels)) {
  if (count < 0 || height <= 0 || width <= 0) {
    throw std::invalid_argument("MemoryImageStore: bad shape " + std::to_string(count) + " x " +
                                std::to_string(height) + " x " + std::to_string(width));
  }
  const auto expected = static_cast<size_t>(count * height * width * 3);
  if (pixels_.size() != expected) {
    throw std::invalid_argument("MemoryImageStore: " + std::to_string(pixels_.size()) + " pixel bytes, expected " +
                                std::to_string(count) + " images x " + std::to_string(height) + " x " +
                                std::to_string(width) + " x 3 = " + std::to_string(expected));
  }
}

Image MemoryImageStore::image(int64_t index) const {
  if (index < 0 || index >= count_) {
    throw std::out_of_range("MemoryImageStore: image " + std::to_string(index) + " of " + std::to_string(count_));
  }
  Image out(height_, width_, 3);
  std::memcpy(out.pixels.data(), data(index), out.pixels.size());
  return out;
}

std::string data_root() {
  const char* root = std::getenv("TAPER_DATA");
  return root != nullptr && root[0] != '\0' ? root : "./data";
}

}  // namespace taper

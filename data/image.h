// Decoded 8-bit images and the codecs: JPEG through libjpeg-turbo's
// TurboJPEG API, PNG through stb_image; PNG output through stb_image_write.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace taper {

// A data file that is missing, truncated or malformed. The message names
// the file (and record or line) and what was expected.
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Interleaved HWC bytes, RGB (channels = 3) unless stated otherwise.
struct Image {
  int64_t height = 0, width = 0, channels = 3;
  std::vector<uint8_t> pixels;  // height * width * channels

  Image() = default;
  Image(int64_t h, int64_t w, int64_t c = 3) : height(h), width(w), channels(c), pixels(h * w * c, 0) {}
  uint8_t* at(int64_t y, int64_t x) { return pixels.data() + (y * width + x) * channels; }
  const uint8_t* at(int64_t y, int64_t x) const { return pixels.data() + (y * width + x) * channels; }
};

// Images larger than this on either side are rejected before any pixel
// memory is allocated (a corrupt header must not cause a huge allocation).
constexpr int64_t kMaxImageSide = 16384;

// Decodes JPEG or PNG (chosen by the magic bytes) to RGB; `origin` names
// the source in errors. Throws DataError.
Image decode_image(const uint8_t* bytes, size_t size, const std::string& origin);
Image read_image(const std::string& path);
void write_png(const std::string& path, const Image& image);

}  // namespace taper

// libFuzzer target: JPEG (TurboJPEG) and PNG (stb_image) through our loader,
// decode_image in data/image.cpp (what read_image uses for every image file).
// Every input must decode to a consistent RGB image or throw DataError.
#include <cstdint>
#include <cstdlib>

#include "data/image.h"

using namespace taper;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const Image image = decode_image(data, size, "fuzz input");
    const bool consistent = image.channels == 3 && image.height > 0 && image.width > 0 &&
                            image.height <= kMaxImageSide && image.width <= kMaxImageSide &&
                            image.pixels.size() == static_cast<size_t>(image.height * image.width * 3);
    if (!consistent) std::abort();
  } catch (const DataError&) {
  }
  return 0;
}

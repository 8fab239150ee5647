// JPEG through TurboJPEG, PNG through stb_image, PNG output through
// stb_image_write. stb is compiled here with only its PNG parser, so no other
// format's parser is reachable from untrusted files.
#include "data/image.h"

#include <turbojpeg.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>

#include "data/file_io.h"

#define STBI_ONLY_PNG
#define STBI_NO_STDIO  // files are read by read_file_bytes, whose errors name the path
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>
#define STBI_WRITE_NO_STDIO  // written by write_file_bytes, which checks every write
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

namespace taper {
namespace {

bool starts_with(const uint8_t* bytes, size_t size, const std::initializer_list<uint8_t>& magic) {
  return size >= magic.size() && std::equal(magic.begin(), magic.end(), bytes);
}

// Runs on header values only, before any pixel memory exists.
void check_dimensions(int64_t width, int64_t height, const std::string& origin) {
  const std::string dims = std::to_string(width) + "x" + std::to_string(height);
  if (width <= 0 || height <= 0) {
    throw DataError(origin + ": image header gives no pixels (" + dims + "; truncated or corrupt header?)");
  }
  if (width > kMaxImageSide || height > kMaxImageSide) {
    throw DataError(origin + ": image header claims " + dims + " pixels, above the limit of " +
                    std::to_string(kMaxImageSide) + " per side (corrupt header?)");
  }
}

// stb sets a reason on every failure; the fallback only guards a null.
std::string stb_reason() {
  const char* reason = stbi_failure_reason();
  return reason != nullptr ? reason : "unknown error";
}

struct TurboJpeg {
  tjhandle handle = tjInitDecompress();
  ~TurboJpeg() {
    if (handle != nullptr) tjDestroy(handle);
  }
};

// CMYK JPEGs (22 in ImageNet's training set) come from Adobe software, which stores
// the inks inverted (255 = no ink), so the naive product is the usual RGB.
Image cmyk_to_rgb(const Image& cmyk) {
  Image rgb(cmyk.height, cmyk.width, 3);
  for (int64_t i = 0; i < cmyk.height * cmyk.width; ++i) {
    const uint8_t* in = cmyk.pixels.data() + 4 * i;
    for (int c = 0; c < 3; ++c) rgb.pixels[3 * i + c] = static_cast<uint8_t>((in[c] * in[3] + 127) / 255);
  }
  return rgb;
}

Image decode_jpeg(const uint8_t* bytes, size_t size, const std::string& origin) {
  const TurboJpeg tj;
  if (tj.handle == nullptr) throw DataError(origin + ": cannot start TurboJPEG: " + tjGetErrorStr2(nullptr));
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  if (tjDecompressHeader3(tj.handle, bytes, size, &width, &height, &subsampling, &colorspace) != 0) {
    throw DataError(origin + ": corrupt JPEG header: " + tjGetErrorStr2(tj.handle));
  }
  check_dimensions(width, height, origin);
  const bool cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  Image out(height, width, cmyk ? 4 : 3);
  // A warning (truncated file, corrupt entropy data) would leave grey or
  // garbage pixels that train silently, so it is an error too. LIMITSCANS
  // bounds the time a hostile progressive file can take.
  const int flags = TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS;
  if (tjDecompress2(tj.handle, bytes, size, out.pixels.data(), width, 0, height, cmyk ? TJPF_CMYK : TJPF_RGB, flags) !=
      0) {
    throw DataError(origin + ": corrupt JPEG data: " + tjGetErrorStr2(tj.handle));
  }
  return cmyk ? cmyk_to_rgb(out) : out;
}

uint32_t read_u32_be(const uint8_t* bytes) {
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) | bytes[3];
}

// Two inputs stb_image mishandles, both found by fuzz/image.cpp, refused
// before it sees them: an empty first IDAT chunk (stb memcpy's into a null
// buffer: undefined behaviour that lets the compiler drop its later null
// check; legal PNG, but no encoder writes it), and a chunk whose declared
// length runs past the end of the file (stb grows its IDAT buffer to the
// declared length before reading: a 149-byte file asked for 2 GB).
void check_png_chunks(const uint8_t* bytes, size_t size, const std::string& origin) {
  bool seen_idat = false;
  for (size_t at = 8; at + 8 <= size;) {
    const uint32_t length = read_u32_be(bytes + at);
    const std::string type(reinterpret_cast<const char*>(bytes + at + 4), 4);
    if (length > size - at - 8) {
      throw DataError(origin + ": corrupt PNG data: chunk '" + type + "' at byte " + std::to_string(at) +
                      " declares " + std::to_string(length) + " bytes, but the file ends " +
                      std::to_string(size - at - 8) + " bytes later");
    }
    if (type == "IDAT" && !seen_idat && length == 0) {
      throw DataError(origin + ": corrupt PNG data: the first IDAT chunk is empty");
    }
    seen_idat = seen_idat || type == "IDAT";
    if (type == "IEND") return;
    at += size_t{12} + length;  // length, type, data, CRC
  }
}

// The size comes straight from the IHDR chunk, which PNG requires first:
// stbi_info_from_memory reports images over its own limit as "unknown image
// type", which would hide the real problem.
Image decode_png(const uint8_t* bytes, size_t size, const std::string& origin) {
  if (size < 24 || std::memcmp(bytes + 12, "IHDR", 4) != 0) {
    throw DataError(origin + ": corrupt PNG header: no IHDR chunk after the signature");
  }
  check_dimensions(read_u32_be(bytes + 16), read_u32_be(bytes + 20), origin);
  if (size > INT_MAX) throw DataError(origin + ": PNG file of " + std::to_string(size) + " bytes is too large");
  check_png_chunks(bytes, size, origin);
  int width = 0, height = 0, channels = 0;
  const std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
      stbi_load_from_memory(bytes, static_cast<int>(size), &width, &height, &channels, 3), stbi_image_free);
  if (pixels == nullptr) throw DataError(origin + ": corrupt PNG data: " + stb_reason());
  Image out(height, width, 3);
  std::memcpy(out.pixels.data(), pixels.get(), out.pixels.size());
  return out;
}

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  const auto* begin = static_cast<const uint8_t*>(data);
  out->insert(out->end(), begin, begin + size);
}

}  // namespace

Image decode_image(const uint8_t* bytes, size_t size, const std::string& origin) {
  if (starts_with(bytes, size, {0xFF, 0xD8, 0xFF})) return decode_jpeg(bytes, size, origin);
  if (starts_with(bytes, size, {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'})) return decode_png(bytes, size, origin);
  throw DataError(origin + ": not a JPEG or PNG image");
}

Image read_image(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  return decode_image(bytes.data(), bytes.size(), path);
}

void write_png(const std::string& path, const Image& image) {
  const bool valid = image.height > 0 && image.width > 0 && image.channels >= 1 && image.channels <= 4 &&
                     image.height <= kMaxImageSide && image.width <= kMaxImageSide &&
                     image.pixels.size() == static_cast<size_t>(image.height * image.width * image.channels);
  if (!valid) throw DataError(path + ": cannot write an image of inconsistent size as PNG");
  const int width = static_cast<int>(image.width), channels = static_cast<int>(image.channels);
  std::vector<uint8_t> png;
  if (stbi_write_png_to_func(append_bytes, &png, width, static_cast<int>(image.height), channels, image.pixels.data(),
                             width * channels) == 0) {
    throw DataError(path + ": PNG encoding failed");
  }
  write_file_bytes(path, png);
}

}  // namespace taper

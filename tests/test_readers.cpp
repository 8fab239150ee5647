// Dataset readers and image codecs: each reader on a tiny fixture written
// here into a temporary folder, every kind of bad input (missing, empty,
// truncated or corrupt files, out-of-range labels, absurd image sizes,
// malformed JSON, list lines naming missing images) rejected with a
// DataError naming the file and record or line, and the real CIFAR-100 and
// PACS-64 data when present.
#include <doctest/doctest.h>
#include <turbojpeg.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/temp_dir.h"
#include "data/cifar100.h"
#include "data/dataset.h"
#include "data/domainnet.h"
#include "data/file_io.h"
#include "data/image.h"
#include "data/image_folder.h"
#include "data/imagenet.h"
#include "data/inaturalist.h"
#include "data/pacs.h"

namespace fs = std::filesystem;
using taper::DataError;
using taper::Dataset;
using taper::Image;

namespace {

using taper::testing::TempDir;

doctest::Contains has(const std::string& text) { return doctest::Contains(text.c_str()); }

void write_text(const std::string& path, const std::string& text) {
  taper::write_file_bytes(path, std::vector<uint8_t>(text.begin(), text.end()));
}

// A smooth RGB test picture (JPEG keeps it within a few levels).
Image gradient(int64_t height, int64_t width, uint8_t blue = 128) {
  Image image(height, width, 3);
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      uint8_t* p = image.at(y, x);
      p[0] = static_cast<uint8_t>(8 * x);
      p[1] = static_cast<uint8_t>(8 * y);
      p[2] = blue;
    }
  }
  return image;
}

std::vector<uint8_t> encode_jpeg(const Image& image, int pixel_format = TJPF_RGB) {
  tjhandle handle = tjInitCompress();
  REQUIRE(handle != nullptr);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  const int rc = tjCompress2(handle, image.pixels.data(), static_cast<int>(image.width), 0,
                             static_cast<int>(image.height), pixel_format, &buffer, &size, TJSAMP_444, 95, 0);
  tjDestroy(handle);
  REQUIRE(rc == 0);
  std::vector<uint8_t> out(buffer, buffer + size);
  tjFree(buffer);
  return out;
}

std::vector<uint8_t> encode_png(const Image& image) {
  const TempDir dir;
  const std::string path = dir / "image.png";
  taper::write_png(path, image);
  return taper::read_file_bytes(path);
}

void write_jpeg(const std::string& path, const Image& image) { taper::write_file_bytes(path, encode_jpeg(image)); }

Image decode(const std::vector<uint8_t>& bytes, const std::string& origin) {
  return taper::decode_image(bytes.data(), bytes.size(), origin);
}

int max_difference(const Image& a, const Image& b) {
  REQUIRE(a.pixels.size() == b.pixels.size());
  int worst = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) worst = std::max(worst, std::abs(a.pixels[i] - b.pixels[i]));
  return worst;
}

// Deterministic junk bytes (no 0xFF, so JPEG sees no spurious markers).
std::vector<uint8_t> junk(size_t count) {
  std::vector<uint8_t> out(count);
  uint32_t state = 12345;
  for (uint8_t& b : out) {
    state = state * 1664525u + 1013904223u;
    b = static_cast<uint8_t>((state >> 24) % 255);
  }
  return out;
}

void put_u16_be(std::vector<uint8_t>* bytes, size_t at, uint32_t value) {
  (*bytes)[at] = static_cast<uint8_t>(value >> 8);
  (*bytes)[at + 1] = static_cast<uint8_t>(value);
}

void put_u32_be(std::vector<uint8_t>* bytes, size_t at, uint32_t value) {
  put_u16_be(bytes, at, value >> 16);
  put_u16_be(bytes, at + 2, value & 0xffff);
}

uint32_t crc32(const uint8_t* data, size_t size) {
  uint32_t crc = 0xffffffffu;
  for (size_t i = 0; i < size; ++i) {
    crc ^= data[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

// A valid PNG whose IHDR (bytes 8..32: length, "IHDR", width, height, ...,
// CRC) claims width x height, with a correct CRC so only the size is wrong.
std::vector<uint8_t> png_claiming(uint32_t width, uint32_t height) {
  std::vector<uint8_t> png = encode_png(gradient(4, 4));
  put_u32_be(&png, 16, width);
  put_u32_be(&png, 20, height);
  put_u32_be(&png, 29, crc32(png.data() + 12, 17));
  return png;
}

// A valid JPEG whose baseline SOF0 segment (FF C0, length, precision,
// height, width) claims width x height.
std::vector<uint8_t> jpeg_claiming(uint32_t width, uint32_t height) {
  std::vector<uint8_t> jpeg = encode_jpeg(gradient(8, 8));
  for (size_t i = 0; i + 9 < jpeg.size(); ++i) {
    if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xC0) {
      put_u16_be(&jpeg, i + 5, height);
      put_u16_be(&jpeg, i + 7, width);
      return jpeg;
    }
  }
  FAIL("no SOF0 marker");
  return jpeg;
}

// The header and scan header of a JPEG (everything up to the entropy-coded
// data), without its pixels.
std::vector<uint8_t> jpeg_headers(const std::vector<uint8_t>& jpeg) {
  for (size_t i = 0; i + 3 < jpeg.size(); ++i) {
    if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xDA) {
      const size_t length = (jpeg[i + 2] << 8) | jpeg[i + 3];
      return std::vector<uint8_t>(jpeg.begin(), jpeg.begin() + static_cast<long>(i + 2 + length));
    }
  }
  FAIL("no SOS marker");
  return jpeg;
}

std::vector<uint8_t> concat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<uint8_t> prefix(const std::vector<uint8_t>& bytes, size_t count) {
  return std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<long>(count));
}

}  // namespace

// ---- image codecs -----------------------------------------------------------

TEST_CASE("reader: PNG round trip is exact, JPEG round trip is close, CMYK JPEG becomes RGB") {
  const Image picture = gradient(12, 20);
  const Image png = decode(encode_png(picture), "picture.png");
  CHECK(png.height == 12);
  CHECK(png.width == 20);
  CHECK(png.channels == 3);
  CHECK(png.pixels == picture.pixels);

  const Image jpeg = decode(encode_jpeg(picture), "picture.jpg");
  CHECK(jpeg.height == 12);
  CHECK(jpeg.width == 20);
  CHECK(max_difference(jpeg, picture) <= 6);

  // Adobe-style inverted CMYK: 255 = no ink, so (255, 128, 0, 255) is orange.
  Image cmyk(8, 8, 4);
  for (size_t i = 0; i < cmyk.pixels.size(); i += 4) {
    cmyk.pixels[i] = 255, cmyk.pixels[i + 1] = 128, cmyk.pixels[i + 2] = 0, cmyk.pixels[i + 3] = 255;
  }
  const Image rgb = decode(encode_jpeg(cmyk, TJPF_CMYK), "cmyk.jpg");
  REQUIRE(rgb.channels == 3);
  CHECK(std::abs(rgb.at(3, 3)[0] - 255) <= 4);
  CHECK(std::abs(rgb.at(3, 3)[1] - 128) <= 4);
  CHECK(std::abs(rgb.at(3, 3)[2] - 0) <= 4);
}

TEST_CASE("reader: grey PNG is expanded to RGB and a PNG named .JPEG decodes by its magic bytes") {
  Image grey(3, 5, 1);
  for (size_t i = 0; i < grey.pixels.size(); ++i) grey.pixels[i] = static_cast<uint8_t>(10 * i);
  const TempDir dir;
  const std::string path = dir / "n02105855_2933.JPEG";  // ImageNet holds one such file
  taper::write_png(path, grey);
  const Image rgb = taper::read_image(path);
  REQUIRE(rgb.channels == 3);
  CHECK(rgb.at(2, 4)[0] == 140);
  CHECK(rgb.at(2, 4)[1] == 140);
  CHECK(rgb.at(2, 4)[2] == 140);
}

TEST_CASE("reader: bad image files are rejected with the file name") {
  const TempDir dir;
  const std::vector<uint8_t> jpeg = encode_jpeg(gradient(32, 32));
  const std::vector<uint8_t> png = encode_png(gradient(32, 32));

  CHECK_THROWS_WITH_AS(taper::read_image(dir.str() + "/missing.jpg"), has("missing.jpg: cannot open"), DataError);
  write_text(dir / "empty.png", "");
  CHECK_THROWS_WITH_AS(taper::read_image(dir / "empty.png"), has("empty.png: empty file"), DataError);
  write_text(dir / "text.jpg", "GIF89a, not a JPEG");
  CHECK_THROWS_WITH_AS(taper::read_image(dir / "text.jpg"), has("text.jpg: not a JPEG or PNG image"), DataError);

  const size_t headers = jpeg_headers(jpeg).size();
  CHECK_THROWS_WITH_AS(decode(prefix(jpeg, (headers + jpeg.size()) / 2), "truncated.jpg"),
                       has("truncated.jpg: corrupt JPEG data"), DataError);
  CHECK_THROWS_WITH_AS(decode(concat(jpeg_headers(jpeg), junk(600)), "garbage.jpg"), has("garbage.jpg: corrupt JPEG"),
                       DataError);
  CHECK_THROWS_WITH_AS(decode(prefix(jpeg, 40), "header-only.jpg"),
                       has("header-only.jpg: image header gives no pixels (0x0; truncated"), DataError);

  CHECK_THROWS_WITH_AS(decode(prefix(png, png.size() / 2), "truncated.png"), has("truncated.png: corrupt PNG"),
                       DataError);
  CHECK_THROWS_WITH_AS(decode(concat(prefix(png, 33), junk(300)), "garbage.png"), has("garbage.png: corrupt PNG"),
                       DataError);
  CHECK_THROWS_WITH_AS(decode(prefix(png, 20), "header-only.png"), has("header-only.png: corrupt PNG"), DataError);
}

TEST_CASE("reader: absurd image dimensions are rejected from the header, before any pixel allocation") {
  // 60000 x 60000 x 3 would be 10.8 GB; the size check runs on the header.
  CHECK_THROWS_WITH_AS(decode(png_claiming(60000, 60000), "huge.png"),
                       has("huge.png: image header claims 60000x60000 pixels, above the limit"), DataError);
  CHECK_THROWS_WITH_AS(decode(jpeg_claiming(60000, 60000), "huge.jpg"),
                       has("huge.jpg: image header claims 60000x60000 pixels, above the limit"), DataError);
  CHECK_THROWS_WITH_AS(decode(png_claiming(16385, 1), "wide.png"), has("wide.png: image header claims 16385x1"),
                       DataError);
  CHECK_THROWS_WITH_AS(decode(png_claiming(0, 4), "empty.png"), has("empty.png: image header gives no pixels (0x4"),
                       DataError);
  CHECK_THROWS_WITH_AS(decode(jpeg_claiming(8, 0), "empty.jpg"), has("empty.jpg: "), DataError);
}

TEST_CASE("reader: a PNG whose first IDAT chunk is empty is refused (fuzz/corpus/image/crash-empty-first-idat.png)") {
  // stb_image would memcpy into a null buffer for it (undefined behaviour).
  const std::vector<uint8_t> found =
      taper::read_file_bytes(std::string(TAPER_SOURCE_DIR) + "/fuzz/corpus/image/crash-empty-first-idat.png");
  CHECK_THROWS_WITH_AS(decode(found, "found.png"), has("found.png: corrupt PNG data: the first IDAT chunk is empty"),
                       DataError);
  // The same in a valid image: an empty IDAT chunk inserted before the first one.
  std::vector<uint8_t> png = encode_png(gradient(4, 4));
  const std::vector<uint8_t> empty_idat = {0, 0, 0, 0, 'I', 'D', 'A', 'T', 0x35, 0xaf, 0x06, 0x1e};
  png.insert(png.begin() + 33, empty_idat.begin(), empty_idat.end());  // after the signature and IHDR
  CHECK_THROWS_WITH_AS(decode(png, "inserted.png"), has("the first IDAT chunk is empty"), DataError);
}

TEST_CASE("reader: a PNG chunk longer than the rest of the file is refused before decoding "
          "(fuzz/corpus/image/oom-idat-length-past-end.png)") {
  // stb_image would first grow its IDAT buffer to the declared length (2 GB for this 149-byte file).
  const std::vector<uint8_t> found =
      taper::read_file_bytes(std::string(TAPER_SOURCE_DIR) + "/fuzz/corpus/image/oom-idat-length-past-end.png");
  CHECK_THROWS_WITH_AS(decode(found, "found.png"), has("found.png: corrupt PNG data: chunk '"), DataError);
  // The same in a valid image: its first IDAT claims 1 GB.
  std::vector<uint8_t> png = encode_png(gradient(4, 4));
  const size_t idat = 33;  // after the signature and IHDR (stb_image_write writes IDAT next)
  REQUIRE(std::string(png.begin() + idat + 4, png.begin() + idat + 8) == "IDAT");
  png[idat] = 0x40, png[idat + 1] = png[idat + 2] = png[idat + 3] = 0;
  CHECK_THROWS_WITH_AS(decode(png, "long.png"), has("long.png: corrupt PNG data: chunk 'IDAT' at byte 33 declares "
                                                    "1073741824 bytes, but the file ends"),
                       DataError);
  CHECK_NOTHROW(decode(encode_png(gradient(4, 4)), "valid.png"));
}

TEST_CASE("reader: write_png names the path it cannot write") {
  const TempDir dir;
  const std::string path = dir.str() + "/no-such-folder/out.png";
  CHECK_THROWS_WITH_AS(taper::write_png(path, gradient(2, 2)), has(path + ": cannot open for writing"), DataError);
}

// ---- stores and data root -----------------------------------------------------

TEST_CASE("reader: MemoryImageStore checks its pixel count and returns HWC images") {
  std::vector<uint8_t> pixels(2 * 2 * 3 * 3);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i);
  const taper::MemoryImageStore store(3, 2, 2, pixels);
  CHECK(store.size() == 3);
  const Image second = store.image(1);
  CHECK(second.height == 2);
  CHECK(second.at(1, 1)[2] == 12 + 11);
  CHECK_THROWS_AS(store.image(3), std::out_of_range);
  CHECK_THROWS_AS(taper::MemoryImageStore(4, 2, 2, pixels), std::invalid_argument);
}

TEST_CASE("reader: data_root is $TAPER_DATA, else ./data") {
  const char* saved = std::getenv("TAPER_DATA");
  const std::string old = saved != nullptr ? saved : "";
  ::setenv("TAPER_DATA", "/somewhere/data", 1);
  CHECK(taper::data_root() == "/somewhere/data");
  ::unsetenv("TAPER_DATA");
  CHECK(taper::data_root() == "./data");
  if (saved != nullptr) ::setenv("TAPER_DATA", old.c_str(), 1);
}

// ---- CIFAR-100 ------------------------------------------------------------------

namespace {

// Pixel byte i (planar) of record r.
uint8_t cifar_pixel(size_t record, size_t i) { return static_cast<uint8_t>(record * 7 + i * 3); }

std::vector<uint8_t> cifar_record(size_t record, int coarse, int fine) {
  std::vector<uint8_t> bytes = {static_cast<uint8_t>(coarse), static_cast<uint8_t>(fine)};
  for (size_t i = 0; i < 3072; ++i) bytes.push_back(cifar_pixel(record, i));
  return bytes;
}

// 100 records, record r of fine class r and coarse class r / 5, plus the name files.
std::vector<uint8_t> write_cifar(const TempDir& dir, const std::string& split = "train") {
  std::string fine, coarse;
  for (int i = 0; i < 100; ++i) fine += "fine" + std::to_string(i) + "\n";
  for (int i = 0; i < 20; ++i) coarse += "coarse" + std::to_string(i) + "\n";
  write_text(dir / "fine_label_names.txt", fine + "\n");  // trailing empty lines are allowed
  write_text(dir / "coarse_label_names.txt", coarse);
  std::vector<uint8_t> bytes;
  for (int r = 0; r < 100; ++r) bytes = concat(bytes, cifar_record(r, r / 5, r));
  taper::write_file_bytes(dir / (split + ".bin"), bytes);
  return bytes;
}

}  // namespace

TEST_CASE("reader: CIFAR-100 binary fixture") {
  const TempDir dir;
  write_cifar(dir, "test");
  const Dataset data = taper::load_cifar100(dir.str(), "test");
  CHECK(data.name == "cifar100");
  CHECK(data.split == "test");
  REQUIRE(data.size() == 100);
  CHECK(data.meta.num_classes() == 100);
  CHECK(data.meta.class_names[42] == "fine42");
  CHECK(data.meta.super_names.size() == 20);
  CHECK(data.meta.super_of_class[42] == 8);
  CHECK(data.meta.domain_names == std::vector<std::string>{"real"});
  CHECK(data.labels[42] == 42);
  CHECK(data.domains == std::vector<int64_t>(100, 0));
  // Planar R, G, B planes of 1024 bytes become interleaved HWC.
  const Image image = data.images->image(42);
  CHECK(image.height == 32);
  CHECK(image.width == 32);
  const size_t p = 5 * 32 + 7;
  CHECK(image.at(5, 7)[0] == cifar_pixel(42, p));
  CHECK(image.at(5, 7)[1] == cifar_pixel(42, 1024 + p));
  CHECK(image.at(5, 7)[2] == cifar_pixel(42, 2048 + p));
}

TEST_CASE("reader: CIFAR-100 bad files name the file and record") {
  const TempDir dir;
  const std::string bin = dir / "train.bin";
  const std::vector<uint8_t> good = write_cifar(dir);
  const auto load = [&] { return taper::load_cifar100(dir.str(), "train"); };
  const auto with_byte = [&](size_t at, uint8_t value) {
    std::vector<uint8_t> bytes = good;
    bytes[at] = value;
    taper::write_file_bytes(bin, bytes);
  };

  SUBCASE("missing") {
    fs::remove(bin);
    CHECK_THROWS_WITH_AS(load(), has("train.bin: cannot open: No such file"), DataError);
  }
  SUBCASE("empty") {
    write_text(bin, "");
    CHECK_THROWS_WITH_AS(load(), has("train.bin: empty file"), DataError);
  }
  SUBCASE("truncated record") {
    taper::write_file_bytes(bin, prefix(good, 99 * 3074 + 1000));
    CHECK_THROWS_WITH_AS(
        load(),
        has("train.bin: truncated: 305326 bytes is not a whole number of 3074-byte records; record 99 is short"),
        DataError);
  }
  SUBCASE("fine label byte out of range") {
    with_byte(7 * 3074 + 1, 200);
    CHECK_THROWS_WITH_AS(load(), has("train.bin: record 7: fine label byte 200, expected 0-99"), DataError);
  }
  SUBCASE("coarse label byte out of range") {
    with_byte(3 * 3074, 20);
    CHECK_THROWS_WITH_AS(load(), has("train.bin: record 3: coarse label byte 20, expected 0-19"), DataError);
  }
  SUBCASE("fine class with two coarse classes") {
    taper::write_file_bytes(bin, concat(good, cifar_record(100, 9, 5)));
    CHECK_THROWS_WITH_AS(load(), has("train.bin: record 100: fine class 5 (fine5) has coarse label 9, but record 5"),
                         DataError);
  }
  SUBCASE("fine class without records") {
    taper::write_file_bytes(bin, prefix(good, 99 * 3074));
    CHECK_THROWS_WITH_AS(load(), has("train.bin: fine class 99 (fine99) has no record"), DataError);
  }
  SUBCASE("name files") {
    write_text(dir / "coarse_label_names.txt", "a\nb\n");
    CHECK_THROWS_WITH_AS(load(), has("coarse_label_names.txt: 2 names, expected 20"), DataError);
    std::string names;
    for (int i = 0; i < 20; ++i) names += (i == 13 ? "coarse2" : "coarse" + std::to_string(i)) + "\n";
    write_text(dir / "coarse_label_names.txt", names);
    CHECK_THROWS_WITH_AS(load(), has("coarse_label_names.txt: line 14: duplicate name 'coarse2' (also line 3)"),
                         DataError);
    names.replace(names.find("coarse2\ncoarse14"), 7, "");
    write_text(dir / "coarse_label_names.txt", names);
    CHECK_THROWS_WITH_AS(load(), has("coarse_label_names.txt: line 14 is empty"), DataError);
    fs::remove(dir / "fine_label_names.txt");
    CHECK_THROWS_WITH_AS(load(), has("fine_label_names.txt: cannot open"), DataError);
  }
}

// ---- image folders and PACS layout -----------------------------------------------

TEST_CASE("reader: image folders are scanned sorted, keeping only visible .jpg/.jpeg/.png files") {
  const TempDir dir;
  write_jpeg(dir / "b_class/2.JPG", gradient(4, 4));
  write_jpeg(dir / "b_class/10.jpeg", gradient(4, 4));
  taper::write_png(dir / "a_class/x.PNG", gradient(4, 4));
  write_text(dir / "a_class/notes.txt", "not an image");
  write_text(dir / "a_class/._x.jpg", "macOS resource fork");
  fs::create_directories(dir.str() + "/.hidden");
  const taper::ImageFolder folder = taper::scan_image_folder(dir.str());
  CHECK(folder.class_names == std::vector<std::string>{"a_class", "b_class"});
  REQUIRE(folder.paths.size() == 3);
  CHECK(fs::path(folder.paths[1]).filename() == "10.jpeg");  // byte order, not natural order
  CHECK(folder.labels == std::vector<int64_t>{0, 1, 1});

  const Dataset data = taper::load_image_folder(dir.str(), "train");
  CHECK(data.size() == 3);
  CHECK(data.images->image(2).width == 4);

  fs::create_directories(dir.str() + "/c_class");
  CHECK_THROWS_WITH_AS(taper::scan_image_folder(dir.str()), has("c_class: no .jpg, .jpeg or .png images"), DataError);
  CHECK_THROWS_WITH_AS(taper::scan_image_folder(dir.str() + "/nope"), has("nope: cannot list folder"), DataError);
}

namespace {

// Two domains (photo: JPEG, sketch: PNG) x two classes x three images.
void write_pacs(const TempDir& dir, int64_t side = 16) {
  std::string split = "path\tsplit\n";
  for (const std::string domain : {"sketch", "photo"}) {
    for (const std::string name : {"horse", "dog"}) {
      for (int i = 0; i < 3; ++i) {
        const bool png = domain == "sketch";
        const std::string path = domain + "/" + name + "/" + std::to_string(i) + (png ? ".png" : ".jpg");
        const Image image = gradient(side, side, static_cast<uint8_t>(40 * i));
        png ? taper::write_png(dir / path, image) : write_jpeg(dir / path, image);
        split += path + "\t" + (i == 2 ? "test" : "train") + "\n";
      }
    }
  }
  write_text(dir / "split.tsv", split);
}

}  // namespace

TEST_CASE("reader: PACS fixture") {
  const TempDir dir;
  write_pacs(dir);
  const Dataset train = taper::load_pacs(dir.str(), "train");
  CHECK(train.meta.domain_names == std::vector<std::string>{"photo", "sketch"});
  CHECK(train.meta.class_names == std::vector<std::string>{"dog", "horse"});
  REQUIRE(train.size() == 8);
  // split.tsv order: sketch/horse first.
  CHECK(train.domains == std::vector<int64_t>{1, 1, 1, 1, 0, 0, 0, 0});
  CHECK(train.labels == std::vector<int64_t>{1, 1, 0, 0, 1, 1, 0, 0});
  const auto* memory = dynamic_cast<const taper::MemoryImageStore*>(train.images.get());
  REQUIRE(memory != nullptr);
  CHECK(memory->height() == 16);
  CHECK(train.images->image(1).pixels == gradient(16, 16, 40).pixels);  // PNG: exact

  CHECK(taper::load_pacs(dir.str(), "test").size() == 4);
  CHECK(taper::load_pacs(dir.str(), "all").size() == 12);

  // Images of different sizes stay on disk, decoded on demand.
  write_jpeg(dir / "photo/dog/0.jpg", gradient(20, 16));
  CHECK(dynamic_cast<const taper::FileImageStore*>(taper::load_pacs(dir.str(), "all").images.get()) != nullptr);
}

TEST_CASE("reader: PACS bad split.tsv names the file and line") {
  const TempDir dir;
  write_pacs(dir);
  const std::string tsv = dir / "split.tsv";
  std::string text = "path\tsplit\nsketch/horse/0.png\ttrain\n";
  const auto load = [&] { return taper::load_pacs(dir.str(), "train"); };

  write_text(tsv, text + "photo/dog/7.jpg\ttest\n");
  CHECK_THROWS_WITH_AS(load(), has("split.tsv: line 3: " + dir.str() + "/photo/dog/7.jpg does not exist"), DataError);
  write_text(tsv, text + "sketch/horse/0.png\ttest\n");
  CHECK_THROWS_WITH_AS(load(), has("split.tsv: line 3: sketch/horse/0.png is already listed on line 2"), DataError);
  write_text(tsv, text + "sketch/cat/0.png\ttrain\n");
  CHECK_THROWS_WITH_AS(load(), has("split.tsv: line 3: unknown class 'cat'"), DataError);
  write_text(tsv, text + "sketch/horse/1.png\tval\n");
  CHECK_THROWS_WITH_AS(load(), has("split.tsv: line 3: split 'val' is not train or test"), DataError);
  write_text(tsv, text);
  CHECK_THROWS_WITH_AS(load(), has("split.tsv: does not list photo/dog/0.jpg"), DataError);
  write_text(tsv, "path split\n");
  CHECK_THROWS_WITH_AS(load(), has("split.tsv: line 1: expected the header"), DataError);
  fs::remove(tsv);
  CHECK_THROWS_WITH_AS(load(), has("split.tsv: cannot open"), DataError);
}

TEST_CASE("reader: PACS corrupt image fails at load time with its path") {
  const TempDir dir;
  write_pacs(dir);
  write_text(dir / "sketch/dog/1.png", "\x89PNG\r\n\x1a\n garbage");
  CHECK_THROWS_WITH_AS(taper::load_pacs(dir.str(), "train"), has("sketch/dog/1.png: corrupt PNG"), DataError);
}

// ---- ImageNet ----------------------------------------------------------------------

namespace {

const std::string kSynsets = "n01440764 tench, Tinca tinca\nn01443537 goldfish, Carassius auratus\n";

// train/: two classes of small JPEGs (one PNG in disguise, as in ImageNet);
// flat val/ with ground truth in devkit id order, which here is the reverse
// of the synset list: id 1 = n01443537 (label 1), id 2 = n01440764 (label 0).
void write_imagenet(const TempDir& dir) {
  write_text(dir / "LOC_synset_mapping.txt", kSynsets);
  write_jpeg(dir / "train/n01440764/n01440764_10.JPEG", gradient(6, 8));
  write_jpeg(dir / "train/n01440764/n01440764_9.JPEG", gradient(6, 8));
  taper::write_png(dir / "train/n01443537/n01443537_1.JPEG", gradient(5, 5));
  for (int i = 1; i <= 3; ++i) {
    write_jpeg(dir / ("val/ILSVRC2012_val_0000000" + std::to_string(i) + ".JPEG"), gradient(4, 4));
  }
  write_text(dir / "ILSVRC2012_validation_ground_truth.txt", "2\n1\n2\n");
  write_text(dir / "ILSVRC2012_devkit_wnids.txt", "n01443537\nn01440764\n");
}

}  // namespace

TEST_CASE("reader: ImageNet fixture, train folders and flat val with devkit ids") {
  const TempDir dir;
  write_imagenet(dir);
  const Dataset train = taper::load_imagenet(dir.str(), "train");
  CHECK(train.meta.class_ids == std::vector<std::string>{"n01440764", "n01443537"});
  CHECK(train.meta.class_names[1] == "goldfish, Carassius auratus");
  CHECK(train.labels == std::vector<int64_t>{0, 0, 1});
  const auto* files = dynamic_cast<const taper::FileImageStore*>(train.images.get());
  REQUIRE(files != nullptr);
  CHECK(fs::path(files->path(0)).filename() == "n01440764_10.JPEG");
  CHECK(train.images->image(2).height == 5);

  const Dataset val = taper::load_imagenet(dir.str(), "val");
  CHECK(val.labels == std::vector<int64_t>{0, 1, 0});
  CHECK(val.domains == std::vector<int64_t>{0, 0, 0});

  // The valprep.sh layout, val/<wnid>/, needs no ground truth.
  const TempDir sorted;
  write_text(sorted / "LOC_synset_mapping.txt", kSynsets);
  write_jpeg(sorted / "train/n01440764/a.JPEG", gradient(4, 4));
  write_jpeg(sorted / "train/n01443537/b.JPEG", gradient(4, 4));
  write_jpeg(sorted / "val/n01443537/ILSVRC2012_val_00000001.JPEG", gradient(4, 4));
  write_jpeg(sorted / "val/n01440764/ILSVRC2012_val_00000002.JPEG", gradient(4, 4));
  CHECK(taper::load_imagenet(sorted.str(), "val").labels == std::vector<int64_t>{0, 1});
}

TEST_CASE("reader: ImageNet bad inputs name the file and line") {
  const TempDir dir;
  write_imagenet(dir);
  const std::string truth = dir / "ILSVRC2012_validation_ground_truth.txt";
  const auto val = [&] { return taper::load_imagenet(dir.str(), "val"); };
  const auto train = [&] { return taper::load_imagenet(dir.str(), "train"); };

  write_text(truth, "2\n1\n2\n1\n");
  CHECK_THROWS_WITH_AS(val(),
                       has("ILSVRC2012_validation_ground_truth.txt: line 4: " + dir.str() +
                           "/val/ILSVRC2012_val_00000004.JPEG does not exist"),
                       DataError);
  write_text(truth, "2\n3\n");
  CHECK_THROWS_WITH_AS(
      val(), has("ILSVRC2012_validation_ground_truth.txt: line 2: '3' is not an ILSVRC2012_ID in 1..2"), DataError);
  write_text(truth, "");
  CHECK_THROWS_WITH_AS(val(), has("ILSVRC2012_validation_ground_truth.txt: empty file"), DataError);
  write_text(dir / "ILSVRC2012_devkit_wnids.txt", "n01443537\nn09999999\n");
  CHECK_THROWS_WITH_AS(val(), has("ILSVRC2012_devkit_wnids.txt: line 2: 'n09999999' is not a wnid"), DataError);
  fs::remove(dir / "ILSVRC2012_devkit_wnids.txt");
  CHECK_THROWS_WITH_AS(val(), has("ILSVRC2012_devkit_wnids.txt: not found"), DataError);

  write_jpeg(dir / "train/n09999999/x.JPEG", gradient(4, 4));
  CHECK_THROWS_WITH_AS(train(), has("train/n09999999: folder is not a wnid of the synset list"), DataError);
  fs::remove_all(dir / "train/n09999999");
  write_text(dir / "LOC_synset_mapping.txt", kSynsets + "n01440764 tench again\n");
  CHECK_THROWS_WITH_AS(train(), has("LOC_synset_mapping.txt: line 3: wnid n01440764 already on line 1"), DataError);
  write_text(dir / "LOC_synset_mapping.txt", "n01440764\n");
  CHECK_THROWS_WITH_AS(train(), has("LOC_synset_mapping.txt: line 1: expected '<wnid> <class names>'"), DataError);
  write_text(dir / "LOC_synset_mapping.txt", kSynsets);

  // A corrupt image is found when it is decoded, and named.
  const std::string bad = dir / "train/n01443537/n01443537_1.JPEG";
  taper::write_file_bytes(bad, prefix(encode_jpeg(gradient(16, 16)), 200));
  const Dataset data = train();
  CHECK_THROWS_WITH_AS(data.images->image(2), has(bad + ": corrupt JPEG"), DataError);
}

// ---- iNaturalist 2021 -----------------------------------------------------------------

namespace {

const std::string kCategories = R"("categories": [
    {"id": 5, "name": "Lumbricus terrestris", "supercategory": "Animalia"},
    {"id": 2, "name": "Quercus robur", "supercategory": "Plants"},
    {"id": 9, "name": "Fagus sylvatica", "supercategory": "Plants"}])";
const std::string kImages = R"("images": [
    {"id": 100, "file_name": "train/a/1.jpg", "width": 4},
    {"id": 7, "file_name": "train/b/2.jpg"},
    {"id": 8, "file_name": "train/c/3.jpg"}])";
const std::string kAnnotations = R"("annotations": [
    {"id": 0, "image_id": 7, "category_id": 9},
    {"id": 1, "image_id": 100, "category_id": 5},
    {"id": 2, "image_id": 8, "category_id": 2}])";

std::string inat_json(const std::string& images, const std::string& annotations, const std::string& categories) {
  return "{" + images + ",\n" + annotations + ",\n" + categories + "}";
}

}  // namespace

TEST_CASE("reader: iNaturalist-2021 JSON fixture") {
  const TempDir dir;
  write_text(dir / "train.json", inat_json(kImages, kAnnotations, kCategories));
  const Dataset data = taper::load_inaturalist(dir.str(), "train");
  // Classes by category id: 2, 5, 9; super-classes sorted.
  CHECK(data.meta.class_ids == std::vector<std::string>{"2", "5", "9"});
  CHECK(data.meta.class_names[0] == "Quercus robur");
  CHECK(data.meta.super_names == std::vector<std::string>{"Animalia", "Plants"});
  CHECK(data.meta.super_of_class == std::vector<int64_t>{1, 0, 1});
  CHECK(data.labels == std::vector<int64_t>{1, 2, 0});
  const auto* files = dynamic_cast<const taper::FileImageStore*>(data.images.get());
  REQUIRE(files != nullptr);
  CHECK(files->path(1) == dir.str() + "/train/b/2.jpg");
  CHECK_THROWS_WITH_AS(files->image(1), has(dir.str() + "/train/b/2.jpg: cannot open"), DataError);
}

TEST_CASE("reader: iNaturalist-2021 bad JSON names the file and entry") {
  struct Case {
    std::string what;
    std::string json;
    std::string message;
  };
  const std::string unknown_image = R"("annotations": [{"image_id": 7, "category_id": 9},
      {"image_id": 100, "category_id": 5}, {"image_id": 8, "category_id": 2}, {"image_id": 3, "category_id": 2}])";
  const std::string unknown_category = R"("annotations": [{"image_id": 7, "category_id": 4},
      {"image_id": 100, "category_id": 5}, {"image_id": 8, "category_id": 2}])";
  const std::string unannotated = R"("annotations": [{"image_id": 7, "category_id": 9},
      {"image_id": 8, "category_id": 2}])";
  const std::string twice = R"("annotations": [{"image_id": 7, "category_id": 9},
      {"image_id": 100, "category_id": 5}, {"image_id": 8, "category_id": 2}, {"image_id": 7, "category_id": 2}])";
  const std::string duplicate_image = R"("images": [{"id": 100, "file_name": "a.jpg"},
      {"id": 7, "file_name": "b.jpg"}, {"id": 100, "file_name": "c.jpg"}])";
  const std::string no_file_name = R"("images": [{"id": 100, "file_name": "a.jpg"}, {"id": 7}, {"id": 8,
      "file_name": "c.jpg"}])";
  const std::string string_id = R"("images": [{"id": "100", "file_name": "a.jpg"}])";
  const std::string duplicate_category = R"("categories": [{"id": 5, "name": "a", "supercategory": "A"},
      {"id": 5, "name": "b", "supercategory": "B"}])";
  const std::string no_super = R"("categories": [{"id": 5, "name": "a"}])";
  const std::vector<Case> cases = {
      {"malformed", R"({"images": [{"id": 1,, }]})", "train.json: malformed JSON at byte 22"},
      {"number beyond double", R"({"images": [{"id": 4e444}]})", "train.json: malformed JSON: [json.exception.out_of_range.406]"},
      {"not an object", "[1, 2]", "train.json: the top level: is not an object"},
      {"no images", "{" + kAnnotations + "," + kCategories + "}", "train.json: the top level: has no array \"images\""},
      {"unknown image", inat_json(kImages, unknown_image, kCategories),
       "train.json: annotations[3]: image_id 3 is not in \"images\""},
      {"unknown category", inat_json(kImages, unknown_category, kCategories),
       "train.json: annotations[0]: category_id 4 is not in \"categories\""},
      {"image without annotation", inat_json(kImages, unannotated, kCategories),
       "train.json: images[0]: has no annotation"},
      {"two annotations", inat_json(kImages, twice, kCategories),
       "train.json: annotations[3]: image 7 is already annotated by annotations[0]"},
      {"duplicate image id", inat_json(duplicate_image, kAnnotations, kCategories),
       "train.json: images[2]: duplicate id 100 (also images[0])"},
      {"missing field", inat_json(no_file_name, kAnnotations, kCategories),
       "train.json: images[1]: missing field \"file_name\""},
      {"string id", inat_json(string_id, kAnnotations, kCategories), "train.json: images[0]: \"id\" is not an integer"},
      {"duplicate category id", inat_json(kImages, kAnnotations, duplicate_category),
       "train.json: categories: duplicate id 5"},
      {"no supercategory", inat_json(kImages, kAnnotations, no_super),
       "train.json: categories[0]: missing field \"supercategory\""},
  };
  const TempDir dir;
  for (const Case& c : cases) {
    CAPTURE(c.what);
    write_text(dir / "train.json", c.json);
    CHECK_THROWS_WITH_AS(taper::load_inaturalist(dir.str(), "train"), has(c.message), DataError);
  }
  fs::remove(dir / "train.json");
  CHECK_THROWS_WITH_AS(taper::load_inaturalist(dir.str(), "train"), has("train.json: cannot open"), DataError);
  write_text(dir / "val.json", "");
  CHECK_THROWS_WITH_AS(taper::load_inaturalist(dir.str(), "val"), has("val.json: empty file"), DataError);
}

// ---- DomainNet ----------------------------------------------------------------------

namespace {

const std::vector<std::string> kTwoDomains = {"sketch", "clipart"};

void write_domainnet(const TempDir& dir) {
  for (const std::string& domain : kTwoDomains) {
    std::string train, test;
    for (const auto& [label, name] : {std::pair<int, std::string>{0, "aircraft_carrier"}, {1, "zebra"}}) {
      for (int i = 0; i < 2; ++i) {
        const std::string path = domain + "/" + name + "/" + domain + "_00" + std::to_string(i) + ".jpg";
        write_jpeg(dir / path, gradient(4, 4));
        (i == 0 ? train : test) += path + " " + std::to_string(label) + "\n";
      }
    }
    write_text(dir / (domain + "_train.txt"), train);
    write_text(dir / (domain + "_test.txt"), test);
  }
}

}  // namespace

TEST_CASE("reader: DomainNet list fixture") {
  const TempDir dir;
  write_domainnet(dir);
  const Dataset data = taper::load_domainnet(dir.str(), "test", kTwoDomains);
  CHECK(data.meta.domain_names == kTwoDomains);
  CHECK(data.meta.class_names == std::vector<std::string>{"aircraft_carrier", "zebra"});
  CHECK(data.labels == std::vector<int64_t>{0, 1, 0, 1});
  CHECK(data.domains == std::vector<int64_t>{0, 0, 1, 1});
  CHECK(data.images->image(3).height == 4);
  CHECK(taper::domainnet_domains().size() == 6);
}

TEST_CASE("reader: DomainNet bad lists name the list and line") {
  const TempDir dir;
  write_domainnet(dir);
  const std::string list = dir / "clipart_train.txt";
  const std::string first = "clipart/aircraft_carrier/clipart_000.jpg 0\n";
  const auto load = [&] { return taper::load_domainnet(dir.str(), "train", kTwoDomains); };

  write_text(list, first + "clipart/zebra/clipart_999.jpg 1\n");
  CHECK_THROWS_WITH_AS(load(),
                       has("clipart_train.txt: line 2: " + dir.str() + "/clipart/zebra/clipart_999.jpg does not exist"),
                       DataError);
  write_text(list, first + "clipart/zebra/clipart_000.jpg 0\n");
  CHECK_THROWS_WITH_AS(load(), has("clipart_train.txt: line 2: label 0 is class 'zebra' here but 'aircraft_carrier'"),
                       DataError);
  write_text(list, first + "clipart/zebra/clipart_000.jpg 2\n");
  CHECK_THROWS_WITH_AS(load(), has("clipart_train.txt: line 2: class 'zebra' has label 2 here but 1"), DataError);
  write_text(list, first + "clipart/zebra/clipart_000.jpg\n");
  CHECK_THROWS_WITH_AS(load(), has("clipart_train.txt: line 2: expected '<domain>/<class>/<file> <label"), DataError);
  write_text(list, first + "clipart/zebra/clipart_000.jpg -1\n");
  CHECK_THROWS_WITH_AS(load(), has("clipart_train.txt: line 2: expected"), DataError);
  write_text(list, first + "sketch/zebra/sketch_000.jpg 1\n");
  CHECK_THROWS_WITH_AS(load(), has("clipart_train.txt: line 2: path 'sketch/zebra/sketch_000.jpg' is not clipart/"),
                       DataError);
  write_text(list, "clipart/zebra/clipart_000.jpg 3\n");
  write_text(dir / "sketch_train.txt", "sketch/aircraft_carrier/sketch_000.jpg 0\n");
  CHECK_THROWS_WITH_AS(load(), has("no list line has label 1"), DataError);
  write_text(list, "");
  CHECK_THROWS_WITH_AS(load(), has("clipart_train.txt: empty file"), DataError);
  fs::remove(list);
  CHECK_THROWS_WITH_AS(load(), has("clipart_train.txt: cannot open"), DataError);
}

// ---- the real data, when present ----------------------------------------------------------

namespace {

// <data root>/<name>, else the shared data folder beside the repository;
// "" when neither holds it.
std::string real_data(const std::string& name) {
  for (const std::string& root : {taper::data_root(), std::string(TAPER_SOURCE_DIR) + "/../shared/data"}) {
    const std::string path = taper::join_path(root, name);
    if (fs::exists(path)) return path;
  }
  return "";
}

std::vector<int64_t> histogram(const std::vector<int64_t>& values, size_t bins) {
  std::vector<int64_t> counts(bins, 0);
  for (const int64_t v : values) ++counts.at(static_cast<size_t>(v));
  return counts;
}

}  // namespace

TEST_CASE("reader: real CIFAR-100 (skipped without the data)") {
  const std::string dir = real_data("cifar-100-binary");
  if (dir.empty()) {
    MESSAGE("skipped: no cifar-100-binary under $TAPER_DATA, ./data or ../shared/data");
    return;
  }
  const Dataset train = taper::load_cifar100(dir, "train");
  REQUIRE(train.size() == 50000);
  CHECK(train.meta.num_classes() == 100);
  CHECK(train.meta.super_names.size() == 20);
  CHECK(histogram(train.labels, 100) == std::vector<int64_t>(100, 500));
  CHECK(histogram(train.meta.super_of_class, 20) == std::vector<int64_t>(20, 5));
  // First record, read with Python: coarse 11, fine 19; pixel (5, 7) = (252, 245, 245).
  CHECK(train.labels[0] == 19);
  CHECK(train.meta.class_names[19] == "cattle");
  CHECK(train.meta.super_names[train.meta.super_of_class[19]] == "large_omnivores_and_herbivores");
  const Image first = train.images->image(0);
  CHECK(first.at(5, 7)[0] == 252);
  CHECK(first.at(5, 7)[1] == 245);
  CHECK(first.at(5, 7)[2] == 245);

  const Dataset test = taper::load_cifar100(dir, "test");
  CHECK(test.size() == 10000);
  CHECK(histogram(test.labels, 100) == std::vector<int64_t>(100, 100));
  CHECK(test.labels[0] == 49);
  CHECK(test.meta.super_of_class == train.meta.super_of_class);
}

TEST_CASE("reader: real PACS-64 (skipped without the data)") {
  const std::string dir = real_data("pacs-64");
  if (dir.empty()) {
    MESSAGE("skipped: no pacs-64 under $TAPER_DATA, ./data or ../shared/data");
    return;
  }
  const Dataset train = taper::load_pacs(dir, "train");
  CHECK(train.meta.domain_names == std::vector<std::string>{"art_painting", "cartoon", "photo", "sketch"});
  CHECK(train.meta.class_names ==
        std::vector<std::string>{"dog", "elephant", "giraffe", "guitar", "horse", "house", "person"});
  CHECK(train.size() == 8003);
  CHECK(histogram(train.domains, 4) == std::vector<int64_t>{1641, 1878, 1339, 3145});
  const auto* memory = dynamic_cast<const taper::MemoryImageStore*>(train.images.get());
  REQUIRE(memory != nullptr);
  CHECK(memory->height() == 64);
  CHECK(memory->width() == 64);

  const Dataset test = taper::load_pacs(dir, "test");
  CHECK(test.size() == 1988);
  CHECK(histogram(test.domains, 4) == std::vector<int64_t>{407, 466, 331, 784});
  // sketch / house: 64 train, 16 test (SOURCE.md).
  int64_t sketch_house = 0;
  for (int64_t i = 0; i < test.size(); ++i) sketch_house += test.domains[i] == 3 && test.labels[i] == 5;
  CHECK(sketch_house == 16);
}

// Augmentation: exact crops, flips and normalised values on known images;
// random-resized crop boxes; determinism per (seed, epoch, index) on any
// thread count; evaluation without randomness; bad input.
#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "data/augment.h"

using namespace taper;

namespace {

// Channel c of pixel (y, x) holds 10 * y + x + 1 + 100 * c.
Image pattern(int64_t h, int64_t w) {
  Image im(h, w);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) im.at(y, x)[c] = uint8_t((10 * y + x + 1 + 100 * c) % 256);
  return im;
}

// Back to bytes under the identity normalisation (mean 0, std 1).
constexpr Normalization kUnit{{0, 0, 0}, {1, 1, 1}};
std::vector<int> bytes(const std::vector<float>& chw) {
  std::vector<int> out;
  for (float v : chw) out.push_back(int(std::lround(v * 255.0f)));
  return out;
}

std::vector<int> channel(const std::vector<int>& chw, int c, int64_t plane) {
  return {chw.begin() + c * plane, chw.begin() + (c + 1) * plane};
}

}  // namespace

TEST_CASE("augment: pad-crop shifts the image over zero padding, exactly") {
  const Image im = pattern(3, 3);
  std::vector<float> out(27);
  // Padding 1, crop at padded (2, 0): output (y, x) = image (y + 1, x - 1).
  pad_crop_normalize(im, {2, 0, false}, 1, kUnit, out.data());
  CHECK(channel(bytes(out), 0, 9) == std::vector<int>{0, 11, 12, 0, 21, 22, 0, 0, 0});
  CHECK(channel(bytes(out), 2, 9) == std::vector<int>{0, 211, 212, 0, 221, 222, 0, 0, 0});
  // The same crop, mirrored.
  pad_crop_normalize(im, {2, 0, true}, 1, kUnit, out.data());
  CHECK(channel(bytes(out), 0, 9) == std::vector<int>{12, 11, 0, 22, 21, 0, 0, 0, 0});
  // The centred crop is the image itself.
  pad_crop_normalize(im, {1, 1, false}, 1, kUnit, out.data());
  CHECK(channel(bytes(out), 1, 9) == std::vector<int>{101, 102, 103, 111, 112, 113, 121, 122, 123});
}

TEST_CASE("augment: normalisation gives torchvision's values for the CIFAR-100 constants") {
  Image im(1, 3);
  for (int c = 0; c < 3; ++c) im.at(0, 0)[c] = 0, im.at(0, 1)[c] = 128, im.at(0, 2)[c] = 255;
  std::vector<float> out(9);
  Generator gen(0);
  augment_cifar(im, gen, false, kCifar100Normalization, out.data());
  const std::vector<float> expected = {-1.8971192f, -0.01922623f, 1.8439955f, -1.897426f, 0.06029961f,
                                       2.0027301f,  -1.596307f,   0.22107464f, 2.024258f};
  for (size_t i = 0; i < out.size(); ++i) CHECK(out[i] == doctest::Approx(expected[i]).epsilon(1e-6));
}

TEST_CASE("augment: pad-crop draws cover every offset and flip about half the time") {
  Generator gen(1);
  std::vector<int> tops(9), lefts(9);
  int flips = 0;
  for (int i = 0; i < 4000; ++i) {
    const PadCrop c = sample_pad_crop(gen, 4);
    REQUIRE(c.top >= 0);
    REQUIRE(c.top <= 8);
    REQUIRE(c.left >= 0);
    REQUIRE(c.left <= 8);
    ++tops[c.top], ++lefts[c.left], flips += c.flip;
  }
  for (int k = 0; k < 9; ++k) {
    CHECK(tops[k] > 300);
    CHECK(lefts[k] > 300);
  }
  CHECK(flips > 1800);
  CHECK(flips < 2200);
}

TEST_CASE("augment: the output depends on (seed, epoch, index) only, not on threads") {
  const Image small = pattern(32, 32), large = pattern(60, 90);
  auto run = [&](uint64_t seed, int64_t epoch, int64_t index) {
    std::vector<float> out(3 * 32 * 32 + 3 * 24 * 24);
    Generator gen = augment_generator(seed, epoch, index);
    augment_cifar(small, gen, true, kCifar100Normalization, out.data());
    augment_imagenet(large, gen, true, kImageNetNormalization, out.data() + 3 * 32 * 32, 24, 28);
    return out;
  };
  CHECK(run(1, 2, 3) == run(1, 2, 3));
  CHECK(run(1, 2, 3) != run(1, 2, 4));
  CHECK(run(1, 2, 3) != run(1, 3, 3));
  CHECK(run(1, 2, 3) != run(2, 2, 3));
  std::vector<std::vector<float>> serial(16), parallel(16);
  for (int i = 0; i < 16; ++i) serial[i] = run(5, 0, i);
#pragma omp parallel for num_threads(2)
  for (int i = 15; i >= 0; --i) parallel[i] = run(5, 0, i);
  CHECK(serial == parallel);
}

TEST_CASE("augment: evaluation draws nothing and is the same for every generator") {
  const Image im = pattern(40, 50);
  Generator g1(1), g2(2);
  std::vector<float> a(3 * 40 * 50), b(3 * 40 * 50);
  augment_cifar(im, g1, false, kUnit, a.data());
  augment_cifar(im, g2, false, kUnit, b.data());
  CHECK(a == b);
  CHECK(bytes(a)[0] == 1);
  CHECK(bytes(a)[2000 + 50 + 1] == 112);  // channel 1, pixel (1, 1)
  std::vector<float> c(3 * 16 * 16), d(3 * 16 * 16);
  augment_imagenet(im, g1, false, kImageNetNormalization, c.data(), 16, 20);
  augment_imagenet(im, g2, false, kImageNetNormalization, d.data(), 16, 20);
  CHECK(c == d);
  CHECK(g1.offset() == 0);
  CHECK(g2.offset() == 0);
}

TEST_CASE("augment: evaluation center-crops after resizing the shorter side") {
  // Shorter side already 20: the resize is the identity, so the output is
  // exactly the centred 16 x 16 window, at row (20 - 16) / 2 = 2 and column
  // round((31 - 16) / 2) = round(7.5) = 8 (halves to even, as Python).
  const Image im = pattern(20, 31);
  std::vector<float> out(3 * 16 * 16);
  Generator gen(0);
  augment_imagenet(im, gen, false, kUnit, out.data(), 16, 20);
  const std::vector<int> got = bytes(out);
  for (int c = 0; c < 3; ++c)
    for (int64_t y = 0; y < 16; ++y)
      for (int64_t x = 0; x < 16; ++x) REQUIRE(got[(c * 16 + y) * 16 + x] == im.at(y + 2, x + 8)[c]);
  // A constant image smaller than the crop is upsampled to a constant.
  Image tiny(5, 7);
  std::fill(tiny.pixels.begin(), tiny.pixels.end(), uint8_t{77});
  std::vector<float> big(3 * 224 * 224);
  augment_imagenet(tiny, gen, false, kUnit, big.data());
  for (int v : bytes(big)) REQUIRE(v == 77);
}

TEST_CASE("augment: resized_crop_normalize resizes the box and mirrors it") {
  const Image im = pattern(12, 12);
  std::vector<float> out(3 * 4 * 5);
  // A box resized to its own size is copied exactly; flip mirrors columns.
  resized_crop_normalize(im, {3, 2, 4, 5}, true, 4, 5, kUnit, out.data());
  const std::vector<int> got = bytes(out);
  for (int64_t y = 0; y < 4; ++y)
    for (int64_t x = 0; x < 5; ++x) CHECK(got[y * 5 + x] == im.at(3 + y, 2 + 4 - x)[0]);
  // Downscaling a horizontal ramp keeps it a ramp inside the box's values.
  std::vector<float> half(3 * 2 * 3);
  resized_crop_normalize(im, {0, 0, 4, 6}, false, 2, 3, kUnit, half.data());
  const std::vector<int> r = bytes(half);
  CHECK(r[0] < r[1]);
  CHECK(r[1] < r[2]);
  CHECK(r[0] >= 1);
  CHECK(r[2] <= 36);
  CHECK_THROWS_AS(resized_crop_normalize(im, {10, 0, 4, 4}, false, 2, 2, kUnit, half.data()), std::invalid_argument);
}

TEST_CASE("augment: random-resized crop boxes lie inside the image with torchvision's scale and ratio") {
  Generator gen(3);
  for (auto [h, w] : {std::pair<int64_t, int64_t>{300, 200}, {64, 64}, {20, 400}, {1, 1}}) {
    for (int i = 0; i < 500; ++i) {
      const CropBox b = sample_resized_crop(h, w, gen);
      REQUIRE(b.height >= 1);
      REQUIRE(b.width >= 1);
      REQUIRE(b.top >= 0);
      REQUIRE(b.left >= 0);
      REQUIRE(b.top + b.height <= h);
      REQUIRE(b.left + b.width <= w);
    }
  }
  for (int i = 0; i < 500; ++i) {
    const CropBox b = sample_resized_crop(300, 200, gen);
    const double aspect = double(b.width) / double(b.height), area = double(b.width * b.height) / (300.0 * 200.0);
    CHECK(aspect > 0.7);
    CHECK(aspect < 1.4);
    CHECK(area > 0.07);
  }
  // When no draw fits (here: asking for more than the whole area), the
  // fallback is the centred box of the nearest allowed ratio.
  const CropBox wide = sample_resized_crop(100, 400, gen, {2.0, 3.0});
  CHECK(wide.top == 0);
  CHECK(wide.height == 100);
  CHECK(wide.width == 133);
  CHECK(wide.left == 133);
  const CropBox tall = sample_resized_crop(400, 100, gen, {2.0, 3.0});
  CHECK(tall.width == 100);
  CHECK(tall.height == 133);
  CHECK(tall.top == 133);
  const CropBox square = sample_resized_crop(50, 50, gen, {2.0, 3.0});
  CHECK((square.top == 0 && square.left == 0 && square.height == 50 && square.width == 50));
}

TEST_CASE("augment: training ImageNet-style output fills exactly 3 x size x size floats") {
  const Image im = pattern(37, 53);
  std::vector<float> out(3 * 32 * 32 + 1, NAN);
  Generator gen = augment_generator(0, 0, 0);
  augment_imagenet(im, gen, true, kImageNetNormalization, out.data(), 32, 36);
  for (size_t i = 0; i + 1 < out.size(); ++i) REQUIRE(std::isfinite(out[i]));
  CHECK(std::isnan(out.back()));
}

TEST_CASE("augment: empty or non-RGB images are DataErrors; bad sizes are rejected") {
  std::vector<float> out(3 * 224 * 224);
  Generator gen(0);
  CHECK_THROWS_AS(augment_cifar(Image(), gen, true, kCifar100Normalization, out.data()), DataError);
  CHECK_THROWS_AS(augment_cifar(Image(0, 5), gen, false, kCifar100Normalization, out.data()), DataError);
  CHECK_THROWS_AS(augment_imagenet(Image(), gen, true, kImageNetNormalization, out.data()), DataError);
  CHECK_THROWS_AS(augment_imagenet(Image(), gen, false, kImageNetNormalization, out.data()), DataError);
  CHECK_THROWS_AS(augment_imagenet(Image(8, 8, 1), gen, false, kImageNetNormalization, out.data()), DataError);
  CHECK_THROWS_AS(augment_imagenet(pattern(8, 8), gen, false, kImageNetNormalization, out.data(), 224, 200),
                  std::invalid_argument);
}

#include "data/augment.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace taper {

namespace {

// Keeps augmentation draws apart from other users of the same seed
// (initialisation, shuffling, task sampling).
constexpr uint64_t kAugmentStream = 0x6175676d656e74ull;  // "augment"

void check_image(const Image& image, const char* what) {
  if (image.height <= 0 || image.width <= 0 || image.channels != 3 ||
      image.pixels.size() != static_cast<size_t>(image.height * image.width * 3))
    throw DataError(std::string(what) + ": need a non-empty RGB image, got " + std::to_string(image.height) + "x" +
                    std::to_string(image.width) + "x" + std::to_string(image.channels));
}

// torchvision's ToTensor + Normalize, in the same float operations.
float normalize(float byte_value, const Normalization& norm, int64_t c) {
  return (byte_value / 255.0f - norm.mean[c]) / norm.std[c];
}

// PIL's bilinear filter along one axis of an in_size -> out_size resize,
// for outputs [begin, begin + n): a triangle whose support widens with the
// shrink factor (so downscaling averages instead of aliasing), truncated at
// the borders and renormalised. stb_image_resize 0.97 would do the same but
// aborts on some downscale ratios (nothings/stb#1449).
struct Taps {
  int64_t width = 0;                 // weights per output
  std::vector<int64_t> first, count;  // input range of each output
  std::vector<float> weight;          // [n][width]
};
Taps triangle_taps(int64_t in_size, int64_t out_size, int64_t begin, int64_t n) {
  const double scale = double(in_size) / double(out_size), support = std::max(scale, 1.0);
  Taps t;
  t.width = 2 * int64_t(std::ceil(support)) + 1;
  t.first.resize(n), t.count.resize(n), t.weight.assign(n * t.width, 0.0f);
  auto tent = [&](int64_t i, double centre) { return std::max(0.0, 1.0 - std::abs((double(i) - centre + 0.5) / support)); };
  for (int64_t k = 0; k < n; ++k) {
    const double centre = (double(begin + k) + 0.5) * scale;
    const int64_t lo = std::max<int64_t>(int64_t(centre - support + 0.5), 0);
    const int64_t hi = std::min<int64_t>(int64_t(centre + support + 0.5), in_size);
    double sum = 0;
    for (int64_t i = lo; i < hi; ++i) sum += tent(i, centre);
    t.first[k] = lo, t.count[k] = hi - lo;
    for (int64_t i = lo; i < hi; ++i) t.weight[k * t.width + i - lo] = float(tent(i, centre) / sum);
  }
  return t;
}

// Resizes `box` of the image to full_h x full_w and writes only `window` of
// the result (so resize-then-center-crop computes just the crop), mirrored
// when `flip`, normalised, as CHW.
void resample_window(const Image& image, const CropBox& box, int64_t full_h, int64_t full_w, const CropBox& window,
                     bool flip, const Normalization& norm, float* out) {
  const Taps ty = triangle_taps(box.height, full_h, window.top, window.height);
  const Taps tx = triangle_taps(box.width, full_w, window.left, window.width);
  const int64_t wh = window.height, ww = window.width;
  std::vector<float> rows(box.height * ww * 3);  // the horizontal pass
  for (int64_t r = 0; r < box.height; ++r)
    for (int64_t x = 0; x < ww; ++x) {
      const uint8_t* src = image.at(box.top + r, box.left + tx.first[x]);
      const float* w = &tx.weight[x * tx.width];
      float* dst = &rows[(r * ww + x) * 3];
      for (int64_t j = 0; j < tx.count[x]; ++j)
        for (int c = 0; c < 3; ++c) dst[c] += w[j] * float(src[j * 3 + c]);
    }
  for (int64_t y = 0; y < wh; ++y)
    for (int64_t x = 0; x < ww; ++x) {
      float acc[3] = {0, 0, 0};
      for (int64_t j = 0; j < ty.count[y]; ++j) {
        const float w = ty.weight[y * ty.width + j];
        const float* src = &rows[((ty.first[y] + j) * ww + x) * 3];
        for (int c = 0; c < 3; ++c) acc[c] += w * src[c];
      }
      const int64_t ox = flip ? ww - 1 - x : x;
      for (int c = 0; c < 3; ++c) out[(c * wh + y) * ww + ox] = normalize(acc[c], norm, c);
    }
}

// Python's round(): halves go to the even neighbour, as torchvision computes
// crop sizes and offsets.
int64_t round_even(double v) { return static_cast<int64_t>(std::nearbyint(v)); }

}  // namespace

Generator augment_generator(uint64_t seed, int64_t epoch, int64_t index) {
  return Generator(seed, kAugmentStream).fork(static_cast<uint64_t>(epoch)).fork(static_cast<uint64_t>(index));
}

PadCropNormalize pad_crop_parameters(int64_t padding, const Normalization& norm) {
  PadCropNormalize p;
  p.padding = padding;
  for (int c = 0; c < 3; ++c) p.mean[c] = norm.mean[c], p.std[c] = norm.std[c];
  return p;
}

PadCrop sample_pad_crop(Generator& gen, int64_t padding) {
  PadCrop crop;
  crop.top = static_cast<int64_t>(gen.below(2 * padding + 1));
  crop.left = static_cast<int64_t>(gen.below(2 * padding + 1));
  crop.flip = gen.next_double() < 0.5;
  return crop;
}

void pad_crop_normalize(const Image& image, const PadCrop& crop, int64_t padding, const Normalization& norm,
                        float* out_chw) {
  check_image(image, "pad_crop_normalize");
  const int64_t h = image.height, w = image.width;
  const PadCropNormalize p = pad_crop_parameters(padding, norm);
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        out_chw[(c * h + y) * w + x] = pad_crop_value(image.pixels.data(), h, w, crop.top, crop.left, crop.flip, c, y, x, p);
      }
}

void augment_cifar(const Image& image, Generator& gen, bool train, const Normalization& norm, float* out_chw,
                   int64_t padding) {
  const PadCrop crop = train ? sample_pad_crop(gen, padding) : PadCrop{padding, padding, false};
  pad_crop_normalize(image, crop, padding, norm, out_chw);
}

CropBox sample_resized_crop(int64_t height, int64_t width, Generator& gen, std::array<double, 2> scale,
                            std::array<double, 2> ratio) {
  const double area = static_cast<double>(height * width);
  const double log_lo = std::log(ratio[0]), log_hi = std::log(ratio[1]);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * (scale[0] + (scale[1] - scale[0]) * gen.next_double());
    const double aspect = std::exp(log_lo + (log_hi - log_lo) * gen.next_double());
    const int64_t w = round_even(std::sqrt(target * aspect)), h = round_even(std::sqrt(target / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const int64_t top = static_cast<int64_t>(gen.below(height - h + 1));
      const int64_t left = static_cast<int64_t>(gen.below(width - w + 1));
      return {top, left, h, w};
    }
  }
  // The fallback: the whole image, trimmed to the nearest allowed ratio.
  const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
  int64_t w = width, h = height;
  if (in_ratio < ratio[0]) h = round_even(static_cast<double>(w) / ratio[0]);
  if (in_ratio > ratio[1]) w = round_even(static_cast<double>(h) * ratio[1]);
  return {(height - h) / 2, (width - w) / 2, h, w};
}

void resized_crop_normalize(const Image& image, const CropBox& box, bool flip, int64_t out_h, int64_t out_w,
                            const Normalization& norm, float* out_chw) {
  check_image(image, "resized_crop_normalize");
  if (box.top < 0 || box.left < 0 || box.height <= 0 || box.width <= 0 || box.top + box.height > image.height ||
      box.left + box.width > image.width || out_h <= 0 || out_w <= 0)
    throw std::invalid_argument("resized_crop_normalize: the box must lie inside the image");
  resample_window(image, box, out_h, out_w, {0, 0, out_h, out_w}, flip, norm, out_chw);
}

void augment_imagenet(const Image& image, Generator& gen, bool train, const Normalization& norm, float* out_chw,
                      int64_t size, int64_t resize) {
  check_image(image, "augment_imagenet");
  if (size <= 0 || resize < size) throw std::invalid_argument("augment_imagenet: need 0 < size <= resize");
  if (train) {
    const CropBox box = sample_resized_crop(image.height, image.width, gen);
    resized_crop_normalize(image, box, gen.next_double() < 0.5, size, size, norm, out_chw);
    return;
  }
  // torchvision's Resize(int): the shorter side becomes `resize`, the
  // longer keeps the aspect ratio, truncated; then CenterCrop(size).
  const bool tall = image.height > image.width;
  const int64_t short_side = tall ? image.width : image.height, long_side = tall ? image.height : image.width;
  const int64_t scaled_long = resize * long_side / short_side;
  const int64_t h = tall ? scaled_long : resize, w = tall ? resize : scaled_long;
  const int64_t top = round_even(static_cast<double>(h - size) / 2.0);
  const int64_t left = round_even(static_cast<double>(w - size) / 2.0);
  resample_window(image, {0, 0, image.height, image.width}, h, w, {top, left, size, size}, false, norm, out_chw);
}

int64_t eval_resize(int64_t size) { return (size * 256 + 112) / 224; }

}  // namespace taper

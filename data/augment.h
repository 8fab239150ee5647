// Training augmentation and evaluation preprocessing, torchvision's recipes:
// CIFAR-style (zero-padded random crop, horizontal flip) and ImageNet-style
// (random-resized crop, flip; resize + center crop for evaluation), each
// ending in per-channel normalisation.
//
// Every function writes float CHW straight into a caller-provided buffer
// (one image's slot of a [N, 3, H, W] batch tensor), so the loader needs no
// extra copy. Randomness comes from a Generator made for one (seed, epoch,
// image index), so a batch does not depend on thread count or order.
#pragma once

#include <array>
#include <cstdint>

#include "data/image.h"
#include "engine/pad_crop.h"
#include "engine/rng.h"

namespace taper {

// out = (pixel / 255 - mean) / std, per channel.
struct Normalization {
  std::array<float, 3> mean, std;
};
inline constexpr Normalization kCifar100Normalization{{0.5071f, 0.4865f, 0.4409f}, {0.2673f, 0.2564f, 0.2762f}};
inline constexpr Normalization kImageNetNormalization{{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};

// The augmentation randomness of image `index` in `epoch`.
Generator augment_generator(uint64_t seed, int64_t epoch, int64_t index);

// ---- CIFAR-style: the output has the input's size (3 * H * W floats).

// A crop of the image zero-padded by `padding` on every side: output pixel
// (y, x) is padded pixel (top + y, left + x), mirrored first when `flip`.
struct PadCrop {
  int64_t top = 0, left = 0;
  bool flip = false;
};
// top, left uniform in [0, 2 * padding]; flip with p = 0.5.
PadCrop sample_pad_crop(Generator& gen, int64_t padding);
// The kernels' form of (padding, norm): Backend::pad_crop_normalize computes
// on the device what pad_crop_normalize computes here, bit for bit.
PadCropNormalize pad_crop_parameters(int64_t padding, const Normalization& norm);
void pad_crop_normalize(const Image& image, const PadCrop& crop, int64_t padding, const Normalization& norm,
                        float* out_chw);
// Training: a sampled PadCrop; evaluation: normalisation only (gen unused).
void augment_cifar(const Image& image, Generator& gen, bool train, const Normalization& norm, float* out_chw,
                   int64_t padding = 4);

// ---- ImageNet-style: the output is size x size (3 * size * size floats).

struct CropBox {
  int64_t top = 0, left = 0, height = 0, width = 0;
};
// torchvision's RandomResizedCrop.get_params: up to 10 draws of an area
// fraction in `scale` and a log-uniform aspect ratio in `ratio`; the first
// box that fits wins, else the center crop closest to `ratio`.
CropBox sample_resized_crop(int64_t height, int64_t width, Generator& gen, std::array<double, 2> scale = {0.08, 1.0},
                            std::array<double, 2> ratio = {3.0 / 4.0, 4.0 / 3.0});
// Resizes `box` of the image to out_h x out_w with PIL's bilinear filter
// (a tent that widens when shrinking, so downscaling does not alias), then
// flips and normalises. Throws std::invalid_argument if the box leaves the image.
void resized_crop_normalize(const Image& image, const CropBox& box, bool flip, int64_t out_h, int64_t out_w,
                            const Normalization& norm, float* out_chw);
// Training: random-resized crop + flip (p = 0.5). Evaluation: shorter side
// resized to `resize`, then the center size x size crop (gen unused).
void augment_imagenet(const Image& image, Generator& gen, bool train, const Normalization& norm, float* out_chw,
                      int64_t size = 224, int64_t resize = 256);
// The evaluation resize for a crop of `size`, torchvision's 256 / 224 ratio
// (rounded): 256 for 224, 37 for 32.
int64_t eval_resize(int64_t size);

}  // namespace taper

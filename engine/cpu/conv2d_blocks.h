// The register blocks of the CPU's direct convolution kernels, shared by the
// 3x3 kernel (conv2d_direct.cpp) and the 1x1 one (conv2d_pointwise.cpp).
//
// A layer is a sum over "taps": each tap reads one input vector of pixels at
// a constant offset from where a vector of outputs lies (a 3x3 kernel has
// Cin*9 taps on padded phase planes, a 1x1 kernel Cin taps on the sampled
// input). forward_block keeps CO output channels x V vectors of pixels in
// registers across all taps; weight_block keeps CO output channels x J taps
// of weight-gradient sums in registers across the pixel vectors of one or
// more images.
// deinterleave / interleave split a row into its even and odd columns and
// back (stride-2 layers).
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/scratch.h"

namespace taper::conv_blocks {

// One register of floats: 8 with AVX (-march=native here), else 4 (SSE: the
// fuzz build), so that no vector crosses a call in a non-native ABI.
#if defined(__AVX__)
constexpr int64_t kLanes = 8;
#else
constexpr int64_t kLanes = 4;
#endif
using Vec = float __attribute__((vector_size(kLanes * sizeof(float))));
// Accumulators of one forward block: 4 output channels x 3 vectors of
// pixels (12 of the 16 registers; 3 loads and 4 broadcasts per 12 FMAs);
// a map's last block may have 1 or 2 vectors.
constexpr int kBlockChannels = 4, kBlockVectors = 3;
// Of one weight-gradient block: 4 output channels x 3 taps (12
// accumulators, the 3 input vectors and one grad_y vector: all 16
// registers, 7 loads per 12 FMAs; weight_block keeps them in registers).
constexpr int kWeightBlockChannels = 4, kWeightBlockTaps = 3;
constexpr int64_t kWholeImages = 8;  // forward: batches this large give each thread whole images

inline Vec load(const float* p) {
  Vec v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, Vec v) { std::memcpy(p, &v, sizeof v); }
inline Vec splat(float s) {
#if defined(__AVX__)
  return _mm256_set1_ps(s);
#else
  return _mm_set1_ps(s);
#endif
}
inline Vec multiply_add(Vec a, Vec b, Vec c) {
#if defined(__FMA__)
  return _mm256_fmadd_ps(a, b, c);
#else
  return a * b + c;
#endif
}
// Without this GCC folds each input load into every FMA that uses it (3
// loads of the same vector instead of 1; the weight-gradient loop became
// load-bound at 12 loads per 9 FMAs).
inline void keep_in_register(Vec& v) { asm("" : "+x"(v)); }
inline float lane_sum(Vec v) {
  float s = 0.0f;
  for (int64_t l = 0; l < kLanes; ++l) s += v[l];
  return s;
}

// The first vector boundary in a buffer of at least one spare vector: loads
// that straddle two cache lines cost two.
inline float* aligned_floats(float* buffer) {
  const auto address = reinterpret_cast<std::uintptr_t>(buffer);
  return reinterpret_cast<float*>((address + sizeof(Vec) - 1) / sizeof(Vec) * sizeof(Vec));
}
inline Vec* aligned_vectors(float* buffer) { return reinterpret_cast<Vec*>(aligned_floats(buffer)); }

// Every vector of a map of `flat` floats a channel (a multiple of kLanes).
inline std::vector<int64_t> flat_vectors(int64_t flat) {
  std::vector<int64_t> at;
  for (int64_t q = 0; q < flat; q += kLanes) at.push_back(q);
  return at;
}

// A row of `width` floats into its even columns (even[k] = row[2k]) and,
// unless odd is null, its odd ones (odd[k] = row[2k + 1]); with AVX2 16 at a
// time while 16 are in the row.
inline void deinterleave(const float* row, float* even, float* odd, int64_t width) {
  int64_t k = 0;
#if defined(__AVX2__)
  for (; 2 * k + 16 <= width; k += 8) {
    const __m256 a = _mm256_loadu_ps(row + 2 * k), b = _mm256_loadu_ps(row + 2 * k + 8);
    // 64-bit halves a0a2 b0b2 a4a6 b4b6 (and a1a3 ...), put in order by the permute
    const auto in_order = [](__m256 v) {
      return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), _MM_SHUFFLE(3, 1, 2, 0)));
    };
    _mm256_storeu_ps(even + k, in_order(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0))));
    if (odd) _mm256_storeu_ps(odd + k, in_order(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1))));
  }
#endif
  for (; 2 * k < width; ++k) {
    even[k] = row[2 * k];
    if (odd && 2 * k + 1 < width) odd[k] = row[2 * k + 1];
  }
}

// A row of `width` floats from its even and odd columns: dst[2k] = even[k],
// dst[2k + 1] = odd[k], or 0 where odd is null (the reverse of deinterleave).
inline void interleave(const float* even, const float* odd, float* dst, int64_t width) {
  int64_t k = 0;
#if defined(__AVX2__)
  for (; 2 * k + 16 <= width; k += 8) {
    const __m256 e = _mm256_loadu_ps(even + k), o = odd ? _mm256_loadu_ps(odd + k) : _mm256_setzero_ps();
    const __m256 lo = _mm256_unpacklo_ps(e, o), hi = _mm256_unpackhi_ps(e, o);  // e0 o0 e1 o1 | e4 o4 e5 o5
    _mm256_storeu_ps(dst + 2 * k, _mm256_permute2f128_ps(lo, hi, 0x20));
    _mm256_storeu_ps(dst + 2 * k + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
  }
#endif
  for (; 2 * k < width; ++k) {
    dst[2 * k] = even[k];
    if (2 * k + 1 < width) dst[2 * k + 1] = odd ? odd[k] : 0.0f;
  }
}

// out[c, V vectors from the first of `at`] (+ bias) for CO channels c, out
// channel c0's map at that vector, `map` floats a channel; w's rows are
// offset.size() taps long. Each output is one chain of multiply-adds over
// the taps in order.
template <int CO, int V>
void forward_block(const float* planes, const std::vector<int64_t>& offset, const float* w, const int64_t* at,
                   float* out, int64_t map, const float* bias) {
  const int64_t taps = static_cast<int64_t>(offset.size());
  const float* src[V];
  for (int v = 0; v < V; ++v) src[v] = planes + at[v];
  Vec acc[CO][V] = {};
  for (int64_t t = 0; t < taps; ++t) {
    Vec xv[V];
    for (int v = 0; v < V; ++v) xv[v] = load(src[v] + offset[t]);
    for (int c = 0; c < CO; ++c) {
      const Vec wc = splat(w[c * taps + t]);
      for (int v = 0; v < V; ++v) acc[c][v] = multiply_add(wc, xv[v], acc[c][v]);
    }
  }
  for (int c = 0; c < CO; ++c)
    for (int v = 0; v < V; ++v) store(out + c * map + v * kLanes, bias ? acc[c][v] + splat(bias[c]) : acc[c][v]);
}

template <int CO>
void forward_block(int64_t vectors, const float* planes, const std::vector<int64_t>& offset, const float* w,
                   const int64_t* at, float* out, int64_t map, const float* bias) {
  vectors == 3   ? forward_block<CO, 3>(planes, offset, w, at, out, map, bias)
  : vectors == 2 ? forward_block<CO, 2>(planes, offset, w, at, out, map, bias)
                 : forward_block<CO, 1>(planes, offset, w, at, out, map, bias);
}

// Output channels [co_begin, co_end) of one image, whose channel c's map
// starts at out + c*map: blocks of 3 vectors (the last of 1 or 2) x 4
// channels, then single channels. A block's inputs stay in L1 across the
// channels.
inline void forward_channels(const float* planes, const std::vector<int64_t>& offset, const std::vector<int64_t>& at,
                             const float* w, const float* bias, float* out, int64_t map, int64_t co_begin,
                             int64_t co_end) {
  const int64_t taps = static_cast<int64_t>(offset.size()), vectors = static_cast<int64_t>(at.size());
  for (int64_t v0 = 0; v0 < vectors; v0 += kBlockVectors) {
    const int64_t k = std::min<int64_t>(kBlockVectors, vectors - v0);
    int64_t co = co_begin;
    for (; co + kBlockChannels <= co_end; co += kBlockChannels)
      forward_block<kBlockChannels>(k, planes, offset, w + co * taps, &at[v0], out + co * map + v0 * kLanes, map,
                                    bias ? bias + co : nullptr);
    for (; co < co_end; ++co)
      forward_block<1>(k, planes, offset, w + co * taps, &at[v0], out + co * map + v0 * kLanes, map,
                       bias ? bias + co : nullptr);
  }
}

// channels(input, n, co, end) for every image n and all c_out channels:
// each thread takes whole images when there are at least kWholeImages, else
// (evaluation with one personalized network per image) the threads share
// each image's blocks of channels. input(n) prepares image n in the calling
// thread's scratch. Either way every output is computed alike.
template <class Input, class Channels>
void for_each_image(int64_t images, int64_t c_out, Input&& input, Channels&& channels) {
  if (images >= kWholeImages) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < images; ++n) channels(input(n), n, int64_t{0}, c_out);
    return;
  }
  const int64_t blocks = ceil_div(c_out, kBlockChannels);
  for (int64_t n = 0; n < images; ++n) {
    const float* in = input(n);
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < blocks; ++b) channels(in, n, b * kBlockChannels, std::min(c_out, (b + 1) * kBlockChannels));
  }
}

// A few images as the weight gradient reads them, vector by vector (every
// image's vectors in one list, so one loop runs through them): vector k's
// inputs for a tap at input[k] + the tap's offset, its grad_y for channel c
// at gy[k] + c*stride.
struct WeightVectors {
  std::vector<const float*> input, gy;
  int64_t stride;
  // Adds an image: its inputs from `input` + at[v] and its grad_y rows
  // (stride floats a channel) from `gy`.
  void add(const float* image_input, const float* image_gy, const std::vector<int64_t>& at) {
    for (size_t v = 0; v < at.size(); ++v) {
      input.push_back(image_input + at[v]);
      gy.push_back(image_gy + static_cast<int64_t>(v) * kLanes);
    }
  }
};

// sum[c*row + j] += <gy[c], tap j's inputs> lane by lane, for CO channels
// and J taps j (row: the weights' row length), over every vector given. The
// sums stay vectors across a partition's images: one horizontal sum per
// weight at the end. On maps under 32x32 several images pass through the
// block, so that its sums are loaded and stored once per several images
// (16x16: two; the 32 -> 32 layer of a ResNet-8 step, one thread, went from
// 78 to 82-85 GFLOP/s).
template <int CO, int J>
void weight_block(const WeightVectors& wv, const int64_t* tap, int64_t co, Vec* sum, int64_t row) {
  Vec acc[CO][J];
  for (int c = 0; c < CO; ++c)
    for (int j = 0; j < J; ++j) acc[c][j] = sum[c * row + j];
  const int64_t vectors = static_cast<int64_t>(wv.input.size()), gy_channel = co * wv.stride;
  for (int64_t k = 0; k < vectors; ++k) {
    const float* src = wv.input[k];
    const float* gy = wv.gy[k] + gy_channel;
    Vec xv[J];
    for (int j = 0; j < J; ++j) {
      xv[j] = load(src + tap[j]);
      keep_in_register(xv[j]);
    }
    for (int c = 0; c < CO; ++c) {
      Vec gc = load(gy + c * wv.stride);
      keep_in_register(gc);
      for (int j = 0; j < J; ++j) acc[c][j] = multiply_add(gc, xv[j], acc[c][j]);
    }
  }
  for (int c = 0; c < CO; ++c)
    for (int j = 0; j < J; ++j) sum[c * row + j] = acc[c][j];
}

// Adds the sums of each image's grad_y per channel (stride floats each; any
// padding columns are zeros) to lane 0 of bias_sum, in double.
inline void add_bias_sums(const std::vector<const float*>& grad_ys, int64_t stride, int64_t c_out, Vec* bias_sum) {
  for (const float* gy : grad_ys)
    for (int64_t c = 0; c < c_out; ++c) {
      double s = 0.0;
      for (int64_t q = 0; q < stride; ++q) s += gy[c * stride + q];
      bias_sum[c][0] += static_cast<float>(s);
    }
}

// How many images a weight block takes at once: enough for about
// kWeightBlockVectors vectors (one on maps of 32x32 and more).
constexpr int64_t kWeightBlockVectors = 64;
inline int64_t images_per_weight_block(int64_t vectors) {
  return std::max<int64_t>(1, kWeightBlockVectors / std::max<int64_t>(1, vectors));
}

// The weight gradient summed in fixed partitions of the images (at most
// kWeightGradientParts), each partition's lanes, then the partitions in
// order, so that no result depends on the thread count. add(sum, begin, end)
// adds images [begin, end) to its partition's sums: `weights` vectors, then
// c_out bias vectors (the bias in lane 0), zeroed first.
template <class Add>
void weight_gradient_parts(int64_t images, int64_t weights, int64_t c_out, float* grad_w, float* grad_bias, Add&& add) {
  const int64_t parts = std::clamp<int64_t>(images, 1, kWeightGradientParts), stride = weights + c_out;
  Vec* sums = aligned_vectors(scratch(5, (parts * stride + 1) * kLanes));
#pragma omp parallel for schedule(static)
  for (int64_t part = 0; part < parts; ++part) {
    Vec* sum = sums + part * stride;
    std::fill(sum, sum + stride, Vec{});
    add(sum, part * images / parts, (part + 1) * images / parts);
  }
  const int64_t outputs = grad_bias ? stride : weights;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < outputs; ++i) {
    float acc = lane_sum(sums[i]);
    for (int64_t part = 1; part < parts; ++part) acc += lane_sum(sums[part * stride + i]);
    (i < weights ? grad_w[i] : grad_bias[i - weights]) = acc;
  }
}

}  // namespace taper::conv_blocks

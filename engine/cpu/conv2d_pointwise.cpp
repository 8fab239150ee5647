#include "engine/cpu/conv2d_pointwise.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "engine/cpu/conv2d_blocks.h"
#include "engine/cpu/scratch.h"

namespace taper {

namespace {

using namespace conv_blocks;

// Tap c reads whole channel c of a [channels][map] image.
std::vector<int64_t> channel_offsets(int64_t channels, int64_t map) {
  std::vector<int64_t> offset(channels);
  for (int64_t c = 0; c < channels; ++c) offset[c] = c * map;
  return offset;
}

// Image n's inputs that the layer reads, [Cin][HO*WO]: x itself at stride 1,
// else every other row and column of it in xs.
const float* sampled_input(const float* x, int64_t n, const Window2d& g, float* xs) {
  const float* image = x + n * g.c_in * g.h_in * g.w_in;
  if (g.stride_h == 1) return image;
  for (int64_t ci = 0; ci < g.c_in; ++ci)
    for (int64_t oh = 0; oh < g.h_out; ++oh)
      deinterleave(image + (ci * g.h_in + 2 * oh) * g.w_in, xs + (ci * g.h_out + oh) * g.w_out, nullptr, g.w_in);
  return xs;
}

// Channels [c0, c1) of a stride-2 layer's data gradient, computed at the
// sampled places (dxs, [Cin][HO*WO]), into image n of grad_x with zeros
// at the places the layer skips.
void spread(const float* dxs, float* grad_x, int64_t n, int64_t c0, int64_t c1, const Window2d& g) {
  for (int64_t ci = c0; ci < c1; ++ci)
    for (int64_t ih = 0; ih < g.h_in; ++ih) {
      float* dst = grad_x + ((n * g.c_in + ci) * g.h_in + ih) * g.w_in;
      if (ih % 2 == 0) {
        interleave(dxs + (ci * g.h_out + ih / 2) * g.w_out, nullptr, dst, g.w_in);
      } else {
        std::memset(dst, 0, g.w_in * sizeof(float));
      }
    }
}

// sum[co*Cin + ci] += <grad_y[co], xs[ci]> for every input channel, in
// blocks of kWeightBlockTaps input channels (the last 1 or 2).
template <int CO>
void weight_rows(const WeightVectors& wv, int64_t co, Vec* sum, const Window2d& g) {
  for (int64_t ci = 0; ci < g.c_in; ci += kWeightBlockTaps) {
    int64_t tap[kWeightBlockTaps];
    for (int64_t j = 0; j < kWeightBlockTaps; ++j) tap[j] = std::min(ci + j, g.c_in - 1) * wv.stride;
    Vec* s = sum + co * g.c_in + ci;
    const int64_t taps = std::min<int64_t>(kWeightBlockTaps, g.c_in - ci);
    taps == 3   ? weight_block<CO, 3>(wv, tap, co, s, g.c_in)
    : taps == 2 ? weight_block<CO, 2>(wv, tap, co, s, g.c_in)
                : weight_block<CO, 1>(wv, tap, co, s, g.c_in);
  }
}

}  // namespace

bool pointwise_conv_fits(const Window2d& g) {
  return g.kh == 1 && g.kw == 1 && g.pad_h == 0 && g.pad_w == 0 && g.stride_h == g.stride_w &&
         (g.stride_h == 1 || g.stride_h == 2) && g.h_out * g.w_out % kLanes == 0;
}

void pointwise_conv_forward(const float* x, const float* w, const float* bias, float* y, const Window2d& g) {
  const int64_t map = g.h_out * g.w_out;
  const std::vector<int64_t> offset = channel_offsets(g.c_in, map), at = flat_vectors(map);
  for_each_image(
      g.n, g.c_out,
      [&](int64_t n) { return sampled_input(x, n, g, aligned_floats(scratch(3, g.c_in * map + kLanes))); },
      [&](const float* xs, int64_t n, int64_t co, int64_t end) {
        forward_channels(xs, offset, at, w, bias, y + n * g.c_out * map, map, co, end);
      });
}

// The data gradient at the sampled places is the forward's sum with the
// roles of Cin and Cout swapped: Cout taps of grad_y, weights transposed;
// spread then puts it in place.
void pointwise_conv_backward_data(const float* grad_y, const float* w, float* grad_x, const Window2d& g) {
  const int64_t map = g.h_out * g.w_out;
  const std::vector<int64_t> offset = channel_offsets(g.c_out, map), at = flat_vectors(map);
  std::vector<float> wt(g.c_in * g.c_out);  // [Cin, Cout]
  for (int64_t co = 0; co < g.c_out; ++co)
    for (int64_t ci = 0; ci < g.c_in; ++ci) wt[ci * g.c_out + co] = w[co * g.c_in + ci];
  for_each_image(
      g.n, g.c_in, [&](int64_t n) { return grad_y + n * g.c_out * map; },
      [&](const float* gy, int64_t n, int64_t c0, int64_t c1) {
        float* dxs = aligned_floats(scratch(4, g.c_in * map + kLanes));
        forward_channels(gy, offset, at, wt.data(), nullptr, dxs, map, c0, c1);
        spread(dxs, grad_x, n, c0, c1, g);
      });
}

void pointwise_conv_backward_weight(const float* x, const float* grad_y, float* grad_w, float* grad_bias,
                                    const Window2d& g) {
  const int64_t map = g.h_out * g.w_out;
  const std::vector<int64_t> at = flat_vectors(map);
  const int64_t group = images_per_weight_block(map / kLanes);
  // Images in groups that pass together through each weight block.
  auto add = [&](Vec* sum, int64_t begin, int64_t end) {
    for (int64_t n0 = begin; n0 < end; n0 += group) {
      const int64_t images = std::min(end, n0 + group) - n0;
      float* sampled = aligned_floats(scratch(3, images * g.c_in * map + kLanes));
      WeightVectors wv{{}, {}, map};
      std::vector<const float*> gy;
      for (int64_t m = 0; m < images; ++m) {
        gy.push_back(grad_y + (n0 + m) * g.c_out * map);
        wv.add(sampled_input(x, n0 + m, g, sampled + m * g.c_in * map), gy.back(), at);
      }
      int64_t co = 0;
      for (; co + kWeightBlockChannels <= g.c_out; co += kWeightBlockChannels)
        weight_rows<kWeightBlockChannels>(wv, co, sum, g);
      for (; co < g.c_out; ++co) weight_rows<1>(wv, co, sum, g);
      if (grad_bias) add_bias_sums(gy, map, g.c_out, sum + g.c_out * g.c_in);
    }
  };
  weight_gradient_parts(g.n, g.c_out * g.c_in, g.c_out, grad_w, grad_bias, add);
}

}  // namespace taper

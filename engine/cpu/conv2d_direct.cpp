#include "engine/cpu/conv2d_direct.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/cpu/conv2d_blocks.h"
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/scratch.h"

namespace taper {

namespace {

using namespace conv_blocks;

constexpr int64_t kSumBytes = int64_t{128} << 10;  // weight gradients: sums per chunk of input channels (1/4 L2)

// The phase planes of one padded image: plane (ci, a, b) holds padded rows
// a, a+s, ... and columns b, b+s, ... of channel ci; each is rows x cols
// floats plus zeros for the reads past the end (a block of pixels and a
// tap's column offset). `flat` output pixels per channel on the planes'
// width: h_out rows of cols, rounded up to whole vectors.
struct Planes {
  int64_t s, rows, cols, plane, flat;
};

Planes planes_of(const Window2d& g) {
  Planes p;
  p.s = g.stride_h;
  p.rows = ceil_div(g.h_in + 2 * g.pad_h, p.s);
  p.cols = ceil_div(g.w_in + 2 * g.pad_w, p.s);
  p.flat = ceil_div(g.h_out * p.cols, kLanes) * kLanes;
  // Reads reach flat - 1 + (2/s)*cols + 2/s < rows*cols + kLanes + 2.
  p.plane = p.rows * p.cols + kLanes + 2;
  return p;
}

// Where tap (ci, i, j) of output pixel q reads: planes + offset[t] + q,
// t = (ci*3 + i)*3 + j, the order of the weights.
std::vector<int64_t> tap_offsets(const Planes& p, int64_t c_in) {
  std::vector<int64_t> offset(c_in * 9);
  for (int64_t ci = 0; ci < c_in; ++ci)
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 3; ++j)
        offset[(ci * 3 + i) * 3 + j] = ((ci * p.s + i % p.s) * p.s + j % p.s) * p.plane + (i / p.s) * p.cols + j / p.s;
  return offset;
}

// Input row src into the two column phases of a stride-2 plane row: padded
// column wp = iw + pad goes to phase wp & 1, place wp >> 1; so the even
// input columns to phase pad & 1 from place pad >> 1, the odd ones to the
// other phase from place (pad + 1) >> 1.
void split_columns(const float* src, float* row, int64_t plane, const Window2d& g) {
  const int64_t even_phase = g.pad_w & 1;
  deinterleave(src, row + even_phase * plane + (g.pad_w >> 1), row + (1 - even_phase) * plane + ((g.pad_w + 1) >> 1),
               g.w_in);
}

// Stride 1: channel `src` into its plane, each float written once: the
// padding above, then each input row a vector at a time with one vector of
// zeros after it (a row's right padding and the next row's left padding lie
// side by side; the next row's values then overwrite the rest), then the
// padding below. (Zeroing the whole planes before a memcpy call per row had
// cost 4% of a ResNet-8 step, perf.)
void fill_plane(const float* src, float* plane, const Planes& p, const Window2d& g) {
  const int64_t top = g.pad_h * p.cols + g.pad_w;
  std::memset(plane, 0, top * sizeof(float));
  float* row = plane + top;
  for (int64_t ih = 0; ih < g.h_in; ++ih, row += p.cols, src += g.w_in) {
    int64_t k = 0;
    for (; k + kLanes <= g.w_in; k += kLanes) store(row + k, load(src + k));
    for (; k < g.w_in; ++k) row[k] = src[k];
    store(row + g.w_in, Vec{});  // within the plane: it ends kLanes + 2 floats after the last row
  }
  const int64_t done = top + g.h_in * p.cols - 2 * g.pad_w;  // the last row's values end here
  std::memset(plane + done, 0, (p.plane - done) * sizeof(float));
}

// Channels [ci_begin, ci_end) of image n into their phase planes (zero
// padding), at their places among all Cin channels' planes: at stride 1 one
// plane each (fill_plane); at stride 2 the planes zeroed, then each row split
// into its column phases. The strides are 1 or 2 (direct_conv_fits), so a
// row's phase and place are a mask and a shift: with divisions per element a stride-2 layer spent as long filling
// its planes as multiplying (16 -> 32 channels, 32x32 -> 16x16: forward 1.6x
// faster so, bench_conv_resnet18 one thread).
float* fill_planes(const float* x, int64_t n, int64_t ci_begin, int64_t ci_end, const Planes& p, const Window2d& g,
                   float* planes) {
  const int64_t per_channel = p.s * p.s * p.plane, shift = p.s - 1;
  if (p.s == 1) {
    for (int64_t ci = ci_begin; ci < ci_end; ++ci)
      fill_plane(x + (n * g.c_in + ci) * g.h_in * g.w_in, planes + ci * p.plane, p, g);
    return planes;
  }
  std::memset(planes + ci_begin * per_channel, 0, (ci_end - ci_begin) * per_channel * sizeof(float));
  for (int64_t ci = ci_begin; ci < ci_end; ++ci) {
    for (int64_t ih = 0; ih < g.h_in; ++ih) {
      const float* src = x + ((n * g.c_in + ci) * g.h_in + ih) * g.w_in;
      const int64_t hp = ih + g.pad_h;
      split_columns(src, planes + ((ci << shift) + (hp & shift)) * p.s * p.plane + (hp >> shift) * p.cols, p.plane, g);
    }
  }
  return planes;
}

// Floats of one image's planes (all Cin channels).
int64_t image_planes(const Planes& p, const Window2d& g) { return g.c_in * p.s * p.s * p.plane; }

// This thread's buffer for the planes of `images` images, one after another.
float* planes_buffer(const Planes& p, const Window2d& g, int64_t images) {
  return aligned_floats(scratch(3, images * image_planes(p, g) + kLanes));
}

// Output rows of whole vectors: no vector crosses a row.
bool rows_of_vectors(const Window2d& g) { return g.w_out % kLanes == 0; }

// Where the vectors of `rows` x `cols` outputs read on planes `width` floats
// wide, as the kernels walk them: where the rows are whole vectors, each
// row's own vectors (consecutive in the output, no extra column computed or
// copied); else every vector of the `flat` floats on the planes' width.
std::vector<int64_t> vectors_of(int64_t rows, int64_t cols, int64_t width, int64_t flat) {
  if (cols % kLanes != 0) return flat_vectors(flat);
  std::vector<int64_t> at;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < cols; k += kLanes) at.push_back(r * width + k);
  return at;
}

// The output vectors of a layer.
std::vector<int64_t> output_vectors(const Planes& p, const Window2d& g) {
  return vectors_of(g.h_out, g.w_out, p.cols, p.flat);
}

// Channel co of image n: the valid columns of out, plus the bias.
void store_channel(const float* out, const float* bias, float* y, int64_t n, int64_t co, const Planes& p,
                   const Window2d& g) {
  for (int64_t oh = 0; oh < g.h_out; ++oh) {
    const float* src = out + co * p.flat + oh * p.cols;
    float* dst = y + ((n * g.c_out + co) * g.h_out + oh) * g.w_out;
    if (!bias) {
      std::memcpy(dst, src, g.w_out * sizeof(float));
      continue;
    }
    for (int64_t ow = 0; ow < g.w_out; ++ow) dst[ow] = src[ow] + bias[co];
  }
}

// One image's output channels (or grad_y) on the planes' width.
float* output_buffer(const Planes& p, const Window2d& g) {
  return aligned_floats(scratch(4, g.c_out * p.flat + kLanes));
}

// grad_y of image n on the planes' width into gy (c_out * flat floats),
// zeros in the extra columns and rows.
float* flat_grad_y(const float* grad_y, int64_t n, const Planes& p, const Window2d& g, float* gy) {
  std::memset(gy, 0, g.c_out * p.flat * sizeof(float));
  for (int64_t co = 0; co < g.c_out; ++co)
    for (int64_t oh = 0; oh < g.h_out; ++oh)
      std::memcpy(gy + co * p.flat + oh * p.cols, grad_y + ((n * g.c_out + co) * g.h_out + oh) * g.w_out,
                  g.w_out * sizeof(float));
  return gy;
}

// Input channels [ci_begin, ci_end): the part of the sums that stays in L2.
struct ChannelRange {
  int64_t begin, end;
};

template <int CO>
void weight_channels(const WeightVectors& wv, const std::vector<int64_t>& offset, int64_t co, ChannelRange in,
                     Vec* sum, const Window2d& g) {
  const int64_t row = g.c_in * 9;
  for (int64_t ci = in.begin; ci < in.end; ++ci)
    for (int64_t i = 0; i < 3; ++i) {
      const int64_t t = (ci * 3 + i) * 3;  // the kernel row's 3 taps
      weight_block<CO, 3>(wv, &offset[t], co, sum + co * row + t, row);
    }
}

// Adds the weight gradient of images [n0, n1) for the input channels `in`
// to sum ([Cout*Cin*9] vectors, then [Cout] bias lanes in lane 0), and
// their bias gradient when with_bias.
void weight_images(const float* x, const float* grad_y, Vec* sum, bool with_bias, int64_t n0, int64_t n1,
                   ChannelRange in, const Planes& p, const std::vector<int64_t>& offset,
                   const std::vector<int64_t>& at, const Window2d& g) {
  const int64_t map = g.h_out * g.w_out, images = n1 - n0;
  const bool rows = rows_of_vectors(g);
  float* planes = planes_buffer(p, g, images);
  float* flat = rows ? nullptr : aligned_floats(scratch(4, images * g.c_out * p.flat + kLanes));
  WeightVectors wv{{}, {}, rows ? map : p.flat};
  std::vector<const float*> gy;
  for (int64_t m = 0; m < images; ++m) {
    gy.push_back(rows ? grad_y + (n0 + m) * g.c_out * map
                      : flat_grad_y(grad_y, n0 + m, p, g, flat + m * g.c_out * p.flat));
    wv.add(fill_planes(x, n0 + m, in.begin, in.end, p, g, planes + m * image_planes(p, g)), gy.back(), at);
  }
  int64_t co = 0;
  for (; co + kWeightBlockChannels <= g.c_out; co += kWeightBlockChannels)
    weight_channels<kWeightBlockChannels>(wv, offset, co, in, sum, g);
  for (; co < g.c_out; ++co) weight_channels<1>(wv, offset, co, in, sum, g);
  if (with_bias) add_bias_sums(gy, wv.stride, g.c_out, sum + g.c_out * g.c_in * 9);
}

// The stride-2 data gradient, one phase (a, b) of grad_x's padded rows and
// columns at a time. Padded row hp = ih + pad = 2*oh + i, so the rows of
// phase a = hp & 1 take only the kernel rows i of that parity, from grad_y
// rows oh = (hp >> 1) - (i >> 1): each phase is a stride-1 correlation of
// grad_y (padded by one) with a 1-, 2- or 4-tap part of the kernel, and no
// zero is multiplied. (The GEMM into columns and col2im's scatter-add it
// replaces took 1.35x as long on 16 -> 32 channels at 32x32, as long on
// 32 -> 64 at 16x16: bench_conv_resnet18, one thread.)
struct PhaseAxis {
  int64_t first, half, count;  // the phase's first input index, its padded index >> 1, how many
};

PhaseAxis phase_axis(int64_t phase, int64_t pad, int64_t size) {
  const int64_t first = (phase + pad) & 1;
  return {first, (first + pad) >> 1, first < size ? (size - first + 1) / 2 : 0};
}

struct Phase {
  PhaseAxis rows, cols;
  int64_t width;                // grad_y's planes' width
  int64_t row, flat;            // in the phase's outputs: a row's and a channel's floats (flat: whole vectors)
  std::vector<int64_t> offset;  // tap t of output (m, k) reads planes + offset[t] + (m - rows.half)*width + k - cols.half
  std::vector<float> w;         // [Cin, taps]
  std::vector<int64_t> at;      // every vector of the outputs
};

// The phase's output vectors and their layout (vectors_of): where its
// columns are whole vectors only its valid outputs, row after row, else
// every vector on the planes' width (the extra columns computed and
// dropped: 2 of 10 on an 8-column phase). A phase without rows or columns
// has no vectors.
void phase_vectors(Phase& ph) {
  const bool rows = ph.cols.count % kLanes == 0;
  ph.row = rows ? ph.cols.count : ph.width;
  ph.flat = rows ? ph.rows.count * ph.cols.count : ceil_div(ph.rows.count * ph.width, kLanes) * kLanes;
  ph.at = vectors_of(ph.rows.count, ph.cols.count, ph.width, ph.flat);
}

Phase phase_of(int64_t a, int64_t b, const float* w, const Planes& gp, const Window2d& g) {
  Phase ph{phase_axis(a, g.pad_h, g.h_in), phase_axis(b, g.pad_w, g.w_in), gp.cols, 0, 0, {}, {}, {}};
  const int64_t taps = g.c_out * (2 - a) * (2 - b);  // kernel rows of parity a: 0 and 2, or 1
  ph.w.resize(g.c_in * taps);
  for (int64_t co = 0; co < g.c_out; ++co)
    for (int64_t i = a; i < 3; i += 2)
      for (int64_t j = b; j < 3; j += 2) {
        const int64_t t = static_cast<int64_t>(ph.offset.size());
        ph.offset.push_back(co * gp.plane + (ph.rows.half - (i >> 1) + 1) * gp.cols + ph.cols.half - (j >> 1) + 1);
        for (int64_t ci = 0; ci < g.c_in; ++ci) ph.w[ci * taps + t] = w[((co * g.c_in + ci) * 3 + i) * 3 + j];
      }
  phase_vectors(ph);
  return ph;
}

// Image n's rows of grad_x of row phase a from the outputs of its two
// column phases: each row written once, the even and odd columns
// interleaved (a phase without columns is never read).
void store_row_phase(const float* even, const Phase& pe, const float* odd, const Phase& po, float* grad_x, int64_t n,
                     const Window2d& g) {
  for (int64_t ci = 0; ci < g.c_in; ++ci)
    for (int64_t r = 0; r < pe.rows.count; ++r)
      interleave(even + ci * pe.flat + r * pe.row, odd + ci * po.flat + r * po.row,
                 grad_x + ((n * g.c_in + ci) * g.h_in + pe.rows.first + 2 * r) * g.w_in, g.w_in);
}

}  // namespace

bool direct_conv_fits(const Window2d& g) {
  return g.kh == 3 && g.kw == 3 && g.stride_h == g.stride_w && (g.stride_h == 1 || g.stride_h == 2) &&
         g.pad_h == g.pad_w && g.pad_h <= 2;
}

void direct_conv_forward(const float* x, const float* w, const float* bias, float* y, const Window2d& g) {
  const Planes p = planes_of(g);
  const std::vector<int64_t> offset = tap_offsets(p, g.c_in);
  const bool rows = rows_of_vectors(g);
  const std::vector<int64_t> at = output_vectors(p, g);
  const int64_t map = g.h_out * g.w_out;
  // Output channels [co, end) of image n from its planes: straight into y
  // when its rows are whole vectors, else on the planes' width in this
  // thread's output buffer, then their valid columns into y.
  auto channels = [&](const float* planes, int64_t n, int64_t co, int64_t end) {
    if (rows) return forward_channels(planes, offset, at, w, bias, y + n * g.c_out * map, map, co, end);
    float* out = output_buffer(p, g);
    forward_channels(planes, offset, at, w, nullptr, out, p.flat, co, end);
    for (int64_t c = co; c < end; ++c) store_channel(out, bias, y, n, c, p, g);
  };
  for_each_image(
      g.n, g.c_out, [&](int64_t n) { return fill_planes(x, n, 0, g.c_in, p, g, planes_buffer(p, g, 1)); }, channels);
}

void direct_conv_backward_weight(const float* x, const float* grad_y, float* grad_w, float* grad_bias,
                                 const Window2d& g) {
  const Planes p = planes_of(g);
  const std::vector<int64_t> offset = tap_offsets(p, g.c_in);
  const std::vector<int64_t> at = output_vectors(p, g);
  const int64_t chunk = std::clamp<int64_t>(kSumBytes / (g.c_out * 9 * int64_t{sizeof(Vec)}), 1, g.c_in),
                group = images_per_weight_block(static_cast<int64_t>(at.size()));
  // A partition's images pass once per chunk of input channels, so that the
  // chunk's sums stay in L2 across them.
  auto add = [&](Vec* sum, int64_t begin, int64_t end) {
    for (int64_t ci = 0; ci < g.c_in; ci += chunk) {
      const ChannelRange in{ci, std::min(g.c_in, ci + chunk)};
      for (int64_t n = begin; n < end; n += group)
        weight_images(x, grad_y, sum, grad_bias != nullptr && ci == 0, n, std::min(end, n + group), in, p, offset, at,
                      g);
    }
  };
  weight_gradient_parts(g.n, g.c_out * g.c_in * 9, g.c_out, grad_w, grad_bias, add);
}

// Every element of grad_x lies in one phase: no zeroing, no sums across threads.
void direct_conv_backward_data(const float* grad_y, const float* w, float* grad_x, const Window2d& g) {
  Window2d t = g;  // grad_y as the input of a stride-1 window padded by one
  t.c_in = g.c_out, t.h_in = g.h_out, t.w_in = g.w_out, t.c_out = g.c_in;
  t.stride_h = t.stride_w = 1, t.pad_h = t.pad_w = 1;
  const Planes gp = planes_of(t);
  std::vector<Phase> phases;  // (a, b) at 2a + b
  for (int64_t a = 0; a < 2; ++a)
    for (int64_t b = 0; b < 2; ++b) phases.push_back(phase_of(a, b, w, gp, g));
  const int64_t even = g.pad_w & 1;  // the column phase of input columns 0, 2, 4, ...
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < g.n; ++n) {
    const float* planes = fill_planes(grad_y, n, 0, g.c_out, gp, t, planes_buffer(gp, t, 1));
    for (int64_t a = 0; a < 2; ++a) {
      const Phase &pe = phases[2 * a + even], &po = phases[2 * a + 1 - even];
      float* out_even = aligned_floats(scratch(4, g.c_in * (pe.flat + po.flat) + kLanes));
      float* out_odd = out_even + g.c_in * pe.flat;
      forward_channels(planes, pe.offset, pe.at, pe.w.data(), nullptr, out_even, pe.flat, 0, g.c_in);
      forward_channels(planes, po.offset, po.at, po.w.data(), nullptr, out_odd, po.flat, 0, g.c_in);
      store_row_phase(out_even, pe, out_odd, po, grad_x, n, g);
    }
  }
}

}  // namespace taper

// CPU convolution in one of four ways, chosen by the layer's shape alone,
// so that no result depends on the thread count:
//
// - the direct 3x3 and 1x1 kernels (conv2d_direct.h, conv2d_pointwise.h)
//   for narrow layers, where im2col's copies cost as much as the arithmetic
//   (direct_forward, direct_weight_grad, pointwise below say where they
//   measured faster);
// - image groups, for layers with small weights (the wide early feature maps,
//   every layer of a narrow network): each thread takes whole groups and runs
//   im2col, a one-thread GEMM and the move back to NCHW while the group's
//   columns are in its cache. A group is a few images of a small feature map,
//   or one image of a large one cut into tiles of output rows; a one-image
//   GEMM reads and writes NCHW in place. One batch-wide column matrix (the
//   other way) is 9x the input and travels through memory three times; on a
//   width-16 ResNet-18 that traffic and the threads' waits cost more than the
//   GEMMs (perf, bench/conv_resnet18). Weight gradients are summed over a
//   fixed partition of the groups, then over the partitions in order.
// - batched, for layers with large weights (late stages of wide networks):
//   one column matrix [Cin*KH*KW, B*HO*WO] for a chunk of B images and one
//   GEMM whose tiles the threads share (deterministic_sgemm), so the weights
//   are packed once per chunk instead of once per group.
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "engine/cpu/conv2d_direct.h"
#include "engine/cpu/conv2d_pointwise.h"
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/im2col.h"
#include "engine/cpu/scratch.h"
#include "engine/cpu/sgemm.h"

namespace taper {

namespace {

// Layers with at most this many weights (floats, 4 MB) use image groups.
// At 1 MB the 128->256 layers of a width-64 ResNet-18 ran batched, and the
// stride-2 one was 10-20% slower so (bench/conv_resnet18, 3 alternating
// rounds); the 512-channel layers stay batched: as groups, each of which
// packs the 9 MB of weights again, they were up to 12% slower.
constexpr int64_t kGroupMaxWeights = int64_t{1} << 20;
// A group's GEMM is at least this wide (columns); a one-image group's
// column buffer is cut into tiles of at most kGroupColumns floats (1 MB)
// unless that width needs more. (256 KB tiles, to stay in this machine's
// L2, were 10% slower per training step: narrower GEMMs.)
constexpr int64_t kGroupWidth = 256, kGroupColumns = int64_t{1} << 18;
// Batched column buffers stay under this many floats (64 MB).
constexpr int64_t kColumnBudget = int64_t{16} << 20;

// rows = Cin*KH*KW, plane = HO*WO; images per group (or chunk), the number
// of groups, and the output rows per tile (HO unless a group is one image).
struct Split {
  int64_t rows, plane, images, count, tile_rows;
};

Split split(const Window2d& g, int64_t images, int64_t tile_rows) {
  const int64_t rows = g.c_in * g.kh * g.kw, plane = g.h_out * g.w_out;
  images = std::clamp<int64_t>(images, 1, std::max<int64_t>(g.n, 1));  // an empty batch: no groups
  return {rows, plane, images, ceil_div(g.n, images), tile_rows};
}

// The direct 3x3 kernel (conv2d_direct.h) where it measured faster than
// im2col + GEMM (bench/conv_resnet18 --width 16 and 64, one thread):
// forward (and so stride-1 data gradients) up to 64 -> 64 channels, 1.2-2x;
// weight gradients up to 64 -> 64 channels on maps of 16x16 or more,
// 1.1-2x (stride 2: 1.12x, 16 -> 32 channels); on 8x8 maps, even with
// several images per block of sums, level with the GEMM at stride 1 (70-74
// GFLOP/s against 71) and slower at stride 2 (55 against 62; a ResNet-8
// step, one thread).
bool narrow(const Window2d& g) { return g.c_in * g.c_out <= 64 * 64; }
bool direct_forward(const Window2d& g) { return direct_conv_fits(g) && narrow(g); }
bool direct_weight_grad(const Window2d& g) { return direct_forward(g) && g.h_out * g.w_out >= 16 * 16; }
// The direct 1x1 kernel (conv2d_pointwise.h) for the same narrow layers: a
// width-16 ResNet's stride-2 shortcuts ran faster than as im2col + GEMM in
// every pass (bench/conv_resnet18 --width 16: 16 -> 32 channels 1.6-2x on
// one thread, 2-4x on two; 32 -> 64 1.1-1.7x and 1.1-2.5x). (Through the 3x3
// kernel's phase planes, one tap per channel, they had been slower than the
// GEMM in 3 of 4 passes: four planes filled for the one read.)
bool pointwise(const Window2d& g) { return pointwise_conv_fits(g) && narrow(g); }

bool use_groups(const Window2d& g) { return g.c_out * g.c_in * g.kh * g.kw <= kGroupMaxWeights; }

Split groups(const Window2d& g) {
  const int64_t plane = g.h_out * g.w_out, row_floats = g.c_in * g.kh * g.kw * g.w_out;
  if (plane >= kGroupWidth) {  // one image, in tiles of about equal height
    int64_t tile = std::clamp<int64_t>(std::max(ceil_div(kGroupWidth, g.w_out), kGroupColumns / row_floats), 1, g.h_out);
    tile = ceil_div(g.h_out, ceil_div(g.h_out, tile));
    return split(g, 1, tile);
  }
  return split(g, ceil_div(kGroupWidth, plane), g.h_out);
}

Split chunks(const Window2d& g) {
  return split(g, kColumnBudget / std::max<int64_t>(1, g.c_in * g.kh * g.kw * g.h_out * g.w_out), g.h_out);
}

// Group t: images [n0, n0 + images).
struct Part {
  int64_t n0, images;
};
Part part(const Split& s, int64_t t, int64_t n) { return {t * s.images, std::min(s.images, n - t * s.images)}; }

// One tile of a group: its output rows and its columns in GEMM layout.
struct Tile {
  OutputRows rows;
  int64_t width;
};
template <class F>
void for_each_tile(const Split& s, const Part& q, const Window2d& g, F&& f) {
  for (int64_t oh = 0; oh < g.h_out; oh += s.tile_rows) {
    const OutputRows rows{oh, std::min(g.h_out, oh + s.tile_rows)};
    f(Tile{rows, q.images * (rows.end - rows.begin) * g.w_out});
  }
}

// A tile's [Cout, width] block of an NCHW tensor and its row stride: the
// tensor itself for a one-image group, else scratch slot 1 (a copy of an
// input; an output goes back through gemm_to_nchw).
template <class T>
struct Matrix {
  T* data;
  int64_t ld;
};
template <class T>
Matrix<T> tile_of(T* t, const Part& q, const Tile& k, const Split& s, const Window2d& g) {
  if (q.images == 1) return {t + q.n0 * g.c_out * s.plane + k.rows.begin * g.w_out, s.plane};
  float* m = scratch(1, g.c_out * k.width);
  if constexpr (std::is_const_v<T>) nchw_to_gemm(t, m, q.n0, q.images, g.c_out, s.plane);
  return {m, k.width};
}

// db[co] += the sum of row co of gy (width columns), in double.
void add_bias_grad(const Matrix<const float>& gy, float* db, int64_t c_out, int64_t width) {
  for (int64_t co = 0; co < c_out; ++co) {
    double s = 0.0;
    for (int64_t k = 0; k < width; ++k) s += gy.data[co * gy.ld + k];
    db[co] += static_cast<float>(s);
  }
}

void forward_groups(const float* x, const float* w, const float* bias, float* y, const Window2d& g) {
  const Split s = groups(g);
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < s.count; ++t) {
    const Part q = part(s, t, g.n);
    for_each_tile(s, q, g, [&](const Tile& k) {
      float* col = scratch(0, s.rows * k.width);
      im2col(x, col, q.n0, q.images, g, k.rows);
      const Matrix<float> out = tile_of(y, q, k, s, g);
      sgemm_in_region(false, false, g.c_out, k.width, s.rows, 1.0f, w, s.rows, col, k.width, 0.0f, out.data, out.ld);
      if (q.images > 1) {
        gemm_to_nchw(out.data, y, bias, q.n0, q.images, g.c_out, s.plane);
      } else if (bias) {
        for (int64_t co = 0; co < g.c_out; ++co)
          for (int64_t p = 0; p < k.width; ++p) out.data[co * out.ld + p] += bias[co];
      }
    });
  }
}

void forward_batched(const float* x, const float* w, const float* bias, float* y, const Window2d& g) {
  const Split s = chunks(g);
  float* col = scratch(0, s.rows * s.plane * s.images);
  float* out = scratch(1, g.c_out * s.plane * s.images);
  for (int64_t t = 0; t < s.count; ++t) {
    const Part q = part(s, t, g.n);
    const int64_t width = q.images * s.plane;
    im2col(x, col, q.n0, q.images, g);
    deterministic_sgemm(false, false, g.c_out, width, s.rows, 1.0f, w, s.rows, col, width, 0.0f, out, width);
    gemm_to_nchw(out, y, bias, q.n0, q.images, g.c_out, s.plane);
  }
}

// y = conv(x, w) + bias (bias may be null).
void forward(const float* x, const float* w, const float* bias, float* y, const Window2d& g) {
  if (direct_forward(g)) return direct_conv_forward(x, w, bias, y, g);
  if (pointwise(g)) return pointwise_conv_forward(x, w, bias, y, g);
  use_groups(g) ? forward_groups(x, w, bias, y, g) : forward_batched(x, w, bias, y, g);
}

// With stride 1, the data gradient is itself a convolution: of grad_y with
// the kernel flipped in space and with Cin and Cout swapped, padded by
// k - 1 - pad. Going through forward() replaces col2im's scatter-add
// (read-modify-write of every input element 9 times) by im2col's plain
// copies.
void backward_data_as_forward(const float* grad_y, const float* w, float* grad_x, const Window2d& g) {
  Window2d t = g;
  t.c_in = g.c_out, t.h_in = g.h_out, t.w_in = g.w_out;
  t.c_out = g.c_in, t.h_out = g.h_in, t.w_out = g.w_in;
  t.pad_h = g.kh - 1 - g.pad_h, t.pad_w = g.kw - 1 - g.pad_w;
  const int64_t taps = g.kh * g.kw;
  float* flipped = scratch(2, g.c_out * g.c_in * taps);  // [Cin, Cout, KH, KW]
#pragma omp parallel for schedule(static)
  for (int64_t ci = 0; ci < g.c_in; ++ci) {
    for (int64_t co = 0; co < g.c_out; ++co) {
      const float* src = w + (co * g.c_in + ci) * taps;
      float* dst = flipped + (ci * g.c_out + co) * taps;
      for (int64_t k = 0; k < taps; ++k) dst[k] = src[taps - 1 - k];
    }
  }
  forward(grad_y, flipped, nullptr, grad_x, t);
}

// Strided layers: GEMM into columns, then col2im. Tiles of one image may
// reach the same input rows, so a group's tiles stay on one thread.
void backward_data_groups(const float* grad_y, const float* w, float* grad_x, const Window2d& g) {
  const Split s = groups(g);
  const int64_t image = g.c_in * g.h_in * g.w_in;
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < s.count; ++t) {
    const Part q = part(s, t, g.n);
    std::memset(grad_x + q.n0 * image, 0, q.images * image * sizeof(float));
    for_each_tile(s, q, g, [&](const Tile& k) {
      const Matrix<const float> gy = tile_of(grad_y, q, k, s, g);
      float* col = scratch(0, s.rows * k.width);
      sgemm_in_region(true, false, s.rows, k.width, g.c_out, 1.0f, w, s.rows, gy.data, gy.ld, 0.0f, col, k.width);
      col2im(col, grad_x, q.n0, q.images, g, k.rows);
    });
  }
}

void backward_data_batched(const float* grad_y, const float* w, float* grad_x, const Window2d& g) {
  const Split s = chunks(g);
  float* col = scratch(0, s.rows * s.plane * s.images);
  float* gy = scratch(1, g.c_out * s.plane * s.images);
  std::memset(grad_x, 0, g.n * g.c_in * g.h_in * g.w_in * sizeof(float));
  for (int64_t t = 0; t < s.count; ++t) {
    const Part q = part(s, t, g.n);
    const int64_t width = q.images * s.plane;
    nchw_to_gemm(grad_y, gy, q.n0, q.images, g.c_out, s.plane);
    deterministic_sgemm(true, false, s.rows, width, g.c_out, 1.0f, w, s.rows, gy, width, 0.0f, col, width);
    col2im(col, grad_x, q.n0, q.images, g);
  }
}

void backward_weight_groups(const float* x, const float* grad_y, float* grad_w, float* grad_bias,
                            const Window2d& g) {
  const Split s = groups(g);
  const int64_t parts = std::max<int64_t>(1, std::min(kWeightGradientParts, s.count)), weights = g.c_out * s.rows,
                stride = weights + g.c_out;
  float* sums = scratch(2, parts * stride);  // [part][weights, then bias]; zeros for an empty batch
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < parts; ++p) {
    float* sum = sums + p * stride;
    std::fill(sum, sum + stride, 0.0f);
    for (int64_t t = p * s.count / parts; t < (p + 1) * s.count / parts; ++t) {
      const Part q = part(s, t, g.n);
      for_each_tile(s, q, g, [&](const Tile& k) {
        float* col = scratch(0, s.rows * k.width);
        im2col(x, col, q.n0, q.images, g, k.rows);
        const Matrix<const float> gy = tile_of(grad_y, q, k, s, g);
        sgemm_in_region(false, true, g.c_out, s.rows, k.width, 1.0f, gy.data, gy.ld, col, k.width, 1.0f, sum, s.rows);
        if (grad_bias) add_bias_grad(gy, sum + weights, g.c_out, k.width);
      });
    }
  }
  const int64_t outputs = grad_bias ? stride : weights;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < outputs; ++i) {
    float acc = sums[i];
    for (int64_t p = 1; p < parts; ++p) acc += sums[p * stride + i];
    (i < weights ? grad_w[i] : grad_bias[i - weights]) = acc;
  }
}

void backward_weight_batched(const float* x, const float* grad_y, float* grad_w, float* grad_bias,
                             const Window2d& g) {
  const Split s = chunks(g);
  float* col = scratch(0, s.rows * s.plane * s.images);
  float* gy = scratch(1, g.c_out * s.plane * s.images);
  if (grad_bias) std::fill(grad_bias, grad_bias + g.c_out, 0.0f);
  if (s.count == 0) std::fill(grad_w, grad_w + g.c_out * s.rows, 0.0f);  // an empty batch
  for (int64_t t = 0; t < s.count; ++t) {
    const Part q = part(s, t, g.n);
    const int64_t width = q.images * s.plane;
    im2col(x, col, q.n0, q.images, g);
    nchw_to_gemm(grad_y, gy, q.n0, q.images, g.c_out, s.plane);
    deterministic_sgemm(false, true, g.c_out, s.rows, width, 1.0f, gy, width, col, width, t == 0 ? 0.0f : 1.0f,
                        grad_w, s.rows);
    if (grad_bias) add_bias_grad({gy, width}, grad_bias, g.c_out, width);
  }
}

}  // namespace

void CpuBackend::conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y,
                                const Window2d& g) {
  forward(x.f32(), w.f32(), bias.defined() ? bias.f32() : nullptr, y.f32(), g);
}

void CpuBackend::conv2d_backward_data(const Tensor& grad_y, const Tensor& w, Tensor& grad_x, const Window2d& g) {
  if (g.stride_h == 1 && g.stride_w == 1) return backward_data_as_forward(grad_y.f32(), w.f32(), grad_x.f32(), g);
  if (direct_forward(g)) return direct_conv_backward_data(grad_y.f32(), w.f32(), grad_x.f32(), g);
  if (pointwise(g)) return pointwise_conv_backward_data(grad_y.f32(), w.f32(), grad_x.f32(), g);
  use_groups(g) ? backward_data_groups(grad_y.f32(), w.f32(), grad_x.f32(), g)
                : backward_data_batched(grad_y.f32(), w.f32(), grad_x.f32(), g);
}

void CpuBackend::conv2d_backward_weight(const Tensor& x, const Tensor& grad_y, Tensor& grad_w, Tensor& grad_bias,
                                        const Window2d& g) {
  float* gb = grad_bias.defined() ? grad_bias.f32() : nullptr;
  if (direct_weight_grad(g)) return direct_conv_backward_weight(x.f32(), grad_y.f32(), grad_w.f32(), gb, g);
  if (pointwise(g)) return pointwise_conv_backward_weight(x.f32(), grad_y.f32(), grad_w.f32(), gb, g);
  use_groups(g) ? backward_weight_groups(x.f32(), grad_y.f32(), grad_w.f32(), gb, g)
                : backward_weight_batched(x.f32(), grad_y.f32(), grad_w.f32(), gb, g);
}

}  // namespace taper

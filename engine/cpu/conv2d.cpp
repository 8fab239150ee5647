// Convolution as im2col + OpenBLAS GEMM, in one of two ways chosen by the
// layer's shape alone, so that no result depends on the thread count:
//
// - image groups, for layers with small weights (the wide early feature maps,
//   every layer of a narrow network): each thread takes whole groups of a few
//   images and runs im2col, a one-thread GEMM and the move back to NCHW while
//   the group is in its cache. One batch-wide column matrix (the other way)
//   is 9x the input and travels through memory three times; on a width-16
//   ResNet-18 that traffic and the threads' waits cost more than the GEMMs
//   (perf, bench/conv_resnet18). Weight gradients are summed over a fixed
//   partition of the groups, then over the partitions in order.
// - batched, for layers with large weights (late stages of wide networks):
//   one column matrix [Cin*KH*KW, B*HO*WO] for a chunk of B images and one
//   GEMM whose tiles the threads share (deterministic_sgemm), so the weights
//   are packed once per chunk instead of once per group.
#include <algorithm>
#include <cstring>
#include <memory>

#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/im2col.h"
#include "engine/cpu/sgemm.h"

namespace taper {

namespace {

// Layers with at most this many weights (floats, 1 MB) use image groups.
constexpr int64_t kGroupMaxWeights = int64_t{1} << 18;
// A group has enough images for a GEMM this wide, within a column buffer of
// at most kGroupColumns floats (1 MB), so small late feature maps still give
// OpenBLAS a wide matrix.
constexpr int64_t kGroupWidth = 256, kGroupColumns = int64_t{1} << 18;
// Weight gradients: per-partition sums, at most this many partitions.
constexpr int64_t kPartitions = 8;
// Batched column buffers stay under this many floats (64 MB).
constexpr int64_t kColumnBudget = int64_t{16} << 20;

// Scratch memory reused across calls: allocating and zero-filling a large
// vector per call cost as much as the GEMM on small layers (bench/conv_resnet18).
// Three slots (columns, GEMM-layout output, partition sums); never shrinks;
// one set per thread.
float* scratch(int slot, int64_t floats) {
  struct Buffer {
    std::unique_ptr<float[]> data;
    int64_t size = 0;
  };
  thread_local Buffer buffers[3];
  Buffer& b = buffers[slot];
  if (b.size < floats) {
    b.data.reset(new float[floats]);  // uninitialised: every use writes before reading
    b.size = floats;
  }
  return b.data.get();
}

// rows = Cin*KH*KW, plane = HO*WO; images per group or chunk and their count.
struct Split {
  int64_t rows, plane, images, count;
};

Split split(const Window2d& g, int64_t images) {
  const int64_t rows = g.c_in * g.kh * g.kw, plane = g.h_out * g.w_out;
  images = std::clamp<int64_t>(images, 1, g.n);
  return {rows, plane, images, (g.n + images - 1) / images};
}

bool use_groups(const Window2d& g) { return g.c_out * g.c_in * g.kh * g.kw <= kGroupMaxWeights; }

Split groups(const Window2d& g) {
  const int64_t plane = g.h_out * g.w_out, column = g.c_in * g.kh * g.kw * plane;
  return split(g, std::min((kGroupWidth + plane - 1) / plane, std::max<int64_t>(1, kGroupColumns / column)));
}

Split chunks(const Window2d& g) {
  return split(g, kColumnBudget / std::max<int64_t>(1, g.c_in * g.kh * g.kw * g.h_out * g.w_out));
}

// Images [n0, n0 + images) of part t.
struct Part {
  int64_t n0, images, width;
};
Part part(const Split& s, int64_t t, int64_t n) {
  const int64_t n0 = t * s.images, images = std::min(s.images, n - n0);
  return {n0, images, images * s.plane};
}

// db[co] += the sum of gy's row co (width columns), in double.
void add_bias_grad(const float* gy, float* db, int64_t c_out, int64_t width) {
#pragma omp parallel for schedule(static)
  for (int64_t co = 0; co < c_out; ++co) {
    double s = 0.0;
    for (int64_t k = 0; k < width; ++k) s += gy[co * width + k];
    db[co] += static_cast<float>(s);
  }
}

// grad_w and grad_bias: weight gradient of one layer by image groups.
void backward_weight_groups(const float* x, const float* grad_y, float* grad_w, float* grad_bias,
                            const Window2d& g) {
  const Split s = groups(g);
  const int64_t parts = std::min(kPartitions, s.count), weights = g.c_out * s.rows, stride = weights + g.c_out;
  float* sums = scratch(2, parts * stride);  // [part][weights, then bias]
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < parts; ++p) {
    float* sum = sums + p * stride;
    std::fill(sum + weights, sum + stride, 0.0f);
    const int64_t first = p * s.count / parts, last = (p + 1) * s.count / parts;
    for (int64_t t = first; t < last; ++t) {
      const Part q = part(s, t, g.n);
      float* col = scratch(0, s.rows * q.width);
      float* gy = scratch(1, g.c_out * q.width);
      im2col(x, col, q.n0, q.images, g);
      nchw_to_gemm(grad_y, gy, q.n0, q.images, g.c_out, s.plane);
      sgemm_in_region(false, true, g.c_out, s.rows, q.width, 1.0f, gy, q.width, col, q.width, t == first ? 0.0f : 1.0f,
                      sum, s.rows);
      if (grad_bias) add_bias_grad(gy, sum + weights, g.c_out, q.width);
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

}  // namespace

void CpuBackend::conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y,
                                const Window2d& g) {
  const float* pb = bias.defined() ? bias.f32() : nullptr;
  if (use_groups(g)) {
    const Split s = groups(g);
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < s.count; ++t) {
      const Part q = part(s, t, g.n);
      float* col = scratch(0, s.rows * q.width);
      float* out = scratch(1, g.c_out * q.width);
      im2col(x.f32(), col, q.n0, q.images, g);
      sgemm_in_region(false, false, g.c_out, q.width, s.rows, 1.0f, w.f32(), s.rows, col, q.width, 0.0f, out, q.width);
      gemm_to_nchw(out, y.f32(), pb, q.n0, q.images, g.c_out, s.plane);
    }
    return;
  }
  const Split s = chunks(g);
  float* col = scratch(0, s.rows * s.plane * s.images);
  float* out = scratch(1, g.c_out * s.plane * s.images);
  for (int64_t t = 0; t < s.count; ++t) {
    const Part q = part(s, t, g.n);
    im2col(x.f32(), col, q.n0, q.images, g);
    deterministic_sgemm(false, false, g.c_out, q.width, s.rows, 1.0f, w.f32(), s.rows, col, q.width, 0.0f, out, q.width);
    gemm_to_nchw(out, y.f32(), pb, q.n0, q.images, g.c_out, s.plane);
  }
}

void CpuBackend::conv2d_backward_data(const Tensor& grad_y, const Tensor& w, Tensor& grad_x, const Window2d& g) {
  const int64_t image = g.c_in * g.h_in * g.w_in;
  if (use_groups(g)) {
    const Split s = groups(g);
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < s.count; ++t) {
      const Part q = part(s, t, g.n);
      float* gy = scratch(1, g.c_out * q.width);
      float* col = scratch(0, s.rows * q.width);
      nchw_to_gemm(grad_y.f32(), gy, q.n0, q.images, g.c_out, s.plane);
      sgemm_in_region(true, false, s.rows, q.width, g.c_out, 1.0f, w.f32(), s.rows, gy, q.width, 0.0f, col, q.width);
      std::memset(grad_x.f32() + q.n0 * image, 0, q.images * image * sizeof(float));
      col2im(col, grad_x.f32(), q.n0, q.images, g);
    }
    return;
  }
  const Split s = chunks(g);
  float* col = scratch(0, s.rows * s.plane * s.images);
  float* gy = scratch(1, g.c_out * s.plane * s.images);
  fill(grad_x, 0.0f);
  for (int64_t t = 0; t < s.count; ++t) {
    const Part q = part(s, t, g.n);
    nchw_to_gemm(grad_y.f32(), gy, q.n0, q.images, g.c_out, s.plane);
    deterministic_sgemm(true, false, s.rows, q.width, g.c_out, 1.0f, w.f32(), s.rows, gy, q.width, 0.0f, col, q.width);
    col2im(col, grad_x.f32(), q.n0, q.images, g);
  }
}

void CpuBackend::conv2d_backward_weight(const Tensor& x, const Tensor& grad_y, Tensor& grad_w, Tensor& grad_bias,
                                        const Window2d& g) {
  float* gb = grad_bias.defined() ? grad_bias.f32() : nullptr;
  if (use_groups(g)) return backward_weight_groups(x.f32(), grad_y.f32(), grad_w.f32(), gb, g);
  const Split s = chunks(g);
  float* col = scratch(0, s.rows * s.plane * s.images);
  float* gy = scratch(1, g.c_out * s.plane * s.images);
  if (gb) fill(grad_bias, 0.0f);
  for (int64_t t = 0; t < s.count; ++t) {
    const Part q = part(s, t, g.n);
    im2col(x.f32(), col, q.n0, q.images, g);
    nchw_to_gemm(grad_y.f32(), gy, q.n0, q.images, g.c_out, s.plane);
    deterministic_sgemm(false, true, g.c_out, s.rows, q.width, 1.0f, gy, q.width, col, q.width, t == 0 ? 0.0f : 1.0f,
                        grad_w.f32(), s.rows);
    if (gb) add_bias_grad(gy, gb, g.c_out, q.width);
  }
}

}  // namespace taper

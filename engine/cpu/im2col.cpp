// The layout moves of the im2col convolution (conv2d.cpp).
#include "engine/cpu/im2col.h"

#include <algorithm>
#include <cstring>

#include "engine/cpu/scratch.h"

namespace taper {

namespace {

// Floor division that stays correct for negative numerators (C++ division
// truncates toward zero).
int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// The output columns [lo, hi) whose input column ow * stride - pad + j lies
// inside the image; hoisting this out of the inner loops removes the bounds
// checks that dominated im2col and col2im (perf).
struct ValidRange {
  int64_t lo, hi;
};
ValidRange valid_columns(int64_t j, const Window2d& g) {
  // Numerators can be negative: a 1-pixel-wide input under a 3x3 kernel has
  // columns j whose every output reads outside the image.
  auto ceil_div = [](int64_t a, int64_t b) { return -floor_div(-a, b); };
  const int64_t lo = std::clamp<int64_t>(ceil_div(g.pad_w - j, g.stride_w), 0, g.w_out);
  const int64_t hi = std::min<int64_t>(g.w_out, floor_div(g.w_in - 1 + g.pad_w - j, g.stride_w) + 1);
  return {lo, std::max(lo, hi)};
}

OutputRows resolve(OutputRows o, const Window2d& g) {
  if (o.end < 0) o.end = g.h_out;
  return o;
}

// Layers whose taps are whole-plane shifts: stride s in both directions,
// w_in = s * w_out and s dividing h_in (every "same" 3x3 convolution with
// s = 1; the 3x3/2 ones of a ResNet on even maps with s = 2). Split into its
// s x s phase planes P[pi][pj][a][q] = x[a*s + pi][q*s + pj], an input plane
// turns tap (i, j) into phase ((i - pad) mod s, (j - pad) mod s) moved by
// floor((i - pad) / s) rows and floor((j - pad) / s) columns. With s > 1
// only where each phase serves more than one tap (kernel wider than s): for
// the 1x1/2 shortcuts the split was one more pass over the input, 2x slower
// (bench/conv_resnet18). 0 for other layers.
int64_t plane_shift_stride(const Window2d& g) {
  const int64_t s = g.stride_h;
  const bool shifts = g.stride_w == s && g.h_in % s == 0 && g.w_in == s * g.w_out;
  return shifts && (s == 1 || (g.kh > s && g.kw > s)) ? s : 0;
}

// out (rows o of a plane w floats wide) = src (h_src rows, w wide) moved by
// dy rows and dx columns, 0 where that reads outside src. The rows inside
// are one contiguous copy, then the columns pushed outside are zeroed: on
// the 4x4-16x16 maps of later layers a row is a few floats, and a memset,
// memcpy and two fills per row had kept im2col at 2-5 GB/s.
void shifted_plane(const float* src, int64_t h_src, float* out, int64_t w, int64_t dy, int64_t dx, OutputRows o) {
  const int64_t lo = std::clamp(-dy, o.begin, o.end), hi = std::clamp(h_src - dy, lo, o.end);
  float* band = out + (lo - o.begin) * w;
  std::fill(out, band, 0.0f);
  std::fill(out + (hi - o.begin) * w, out + (o.end - o.begin) * w, 0.0f);
  // band[p] = src[start + p]; the first or last |dx| floats may lie outside
  // src: those fall in the zeroed columns and are not read.
  const int64_t start = (lo + dy) * w + dx, n = (hi - lo) * w;
  const int64_t p0 = std::max<int64_t>(0, -start), p1 = std::min(n, h_src * w - start);
  if (p1 > p0) std::copy(src + start + p0, src + start + p1, band + p0);
  for (int64_t oh = lo; oh < hi; ++oh) {
    float* row = out + (oh - o.begin) * w;
    for (int64_t ow = 0; ow < std::min(-dx, w); ++ow) row[ow] = 0.0f;
    for (int64_t ow = std::max<int64_t>(0, w - dx); ow < w; ++ow) row[ow] = 0.0f;
  }
}

// Phase planes of one input plane into p (h_in * w_in floats).
void split_phases(const float* src, float* p, int64_t s, const Window2d& g) {
  const int64_t hp = g.h_in / s, wp = g.w_out;
  for (int64_t a = 0; a < hp; ++a) {
    for (int64_t pi = 0; pi < s; ++pi) {
      const float* row = src + (a * s + pi) * g.w_in;
      for (int64_t pj = 0; pj < s; ++pj) {
        float* dst = p + ((pi * s + pj) * hp + a) * wp;
        for (int64_t q = 0; q < wp; ++q) dst[q] = row[q * s + pj];
      }
    }
  }
}

// im2col for the layers plane_shift_stride() accepts, a channel at a time:
// its planes (split into phases once, when s > 1) then each column row in
// turn, so the writes run in order.
void im2col_by_shifts(const float* x, float* col, int64_t n0, int64_t images, const Window2d& g, OutputRows o,
                      int64_t s) {
  const int64_t plane = (o.end - o.begin) * g.w_out, width = images * plane, hp = g.h_in / s;
  const int64_t in_plane = g.h_in * g.w_in;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < g.c_in; ++c) {
    const float* first = x + (n0 * g.c_in + c) * in_plane;
    int64_t image_stride = g.c_in * in_plane;  // between image b's plane and b + 1's
    if (s > 1) {
      float* phases = scratch(6, images * in_plane);
      for (int64_t b = 0; b < images; ++b) split_phases(first + b * image_stride, phases + b * in_plane, s, g);
      first = phases, image_stride = in_plane;
    }
    for (int64_t i = 0; i < g.kh; ++i) {
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t dy = floor_div(i - g.pad_h, s), dx = floor_div(j - g.pad_w, s);
        const int64_t phase = ((i - g.pad_h - dy * s) * s + j - g.pad_w - dx * s) * hp * g.w_out;
        float* row = col + ((c * g.kh + i) * g.kw + j) * width;
        for (int64_t b = 0; b < images; ++b)
          shifted_plane(first + b * image_stride + phase, hp, row + b * plane, g.w_out, dy, dx, o);
      }
    }
  }
}

}  // namespace

void im2col(const float* x, float* col, int64_t n0, int64_t images, const Window2d& g, OutputRows o) {
  o = resolve(o, g);
  if (const int64_t s = plane_shift_stride(g)) return im2col_by_shifts(x, col, n0, images, g, o, s);
  const int64_t rows = g.c_in * g.kh * g.kw, plane = (o.end - o.begin) * g.w_out, width = images * plane;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t c = r / (g.kh * g.kw), i = r / g.kw % g.kh, j = r % g.kw;
    const ValidRange v = valid_columns(j, g);
    for (int64_t b = 0; b < images; ++b) {
      const float* src = x + ((n0 + b) * g.c_in + c) * g.h_in * g.w_in;
      float* dst = col + r * width + b * plane;
      for (int64_t oh = o.begin; oh < o.end; ++oh) {
        const int64_t ih = oh * g.stride_h - g.pad_h + i;
        float* out = dst + (oh - o.begin) * g.w_out;
        if (ih < 0 || ih >= g.h_in) {
          std::memset(out, 0, g.w_out * sizeof(float));
          continue;
        }
        const float* row = src + ih * g.w_in - g.pad_w + j;
        std::fill(out, out + v.lo, 0.0f);
        if (g.stride_w == 1) {
          std::memcpy(out + v.lo, row + v.lo, (v.hi - v.lo) * sizeof(float));
        } else {
          for (int64_t ow = v.lo; ow < v.hi; ++ow) out[ow] = row[ow * g.stride_w];
        }
        std::fill(out + v.hi, out + g.w_out, 0.0f);
      }
    }
  }
}

// The adjoint of im2col: grad_x += scatter(col). Parallel over input
// channels, so no two threads write the same element.
void col2im(const float* col, float* grad_x, int64_t n0, int64_t images, const Window2d& g, OutputRows o) {
  o = resolve(o, g);
  const int64_t plane = (o.end - o.begin) * g.w_out, width = images * plane;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < g.c_in; ++c) {
    for (int64_t i = 0; i < g.kh; ++i) {
      for (int64_t j = 0; j < g.kw; ++j) {
        const ValidRange v = valid_columns(j, g);
        const float* src = col + ((c * g.kh + i) * g.kw + j) * width;
        for (int64_t b = 0; b < images; ++b) {
          float* dst = grad_x + ((n0 + b) * g.c_in + c) * g.h_in * g.w_in;
          for (int64_t oh = o.begin; oh < o.end; ++oh) {
            const int64_t ih = oh * g.stride_h - g.pad_h + i;
            if (ih < 0 || ih >= g.h_in) continue;
            const float* in = src + b * plane + (oh - o.begin) * g.w_out;
            float* row = dst + ih * g.w_in - g.pad_w + j;
            for (int64_t ow = v.lo; ow < v.hi; ++ow) row[ow * g.stride_w] += in[ow];
          }
        }
      }
    }
  }
}

// Between NCHW [images, Cout, plane] and GEMM layout [Cout, images*plane].
void nchw_to_gemm(const float* y, float* m, int64_t n0, int64_t images, int64_t c_out, int64_t plane) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t co = 0; co < c_out; ++co) {
    for (int64_t b = 0; b < images; ++b) {
      std::memcpy(m + (co * images + b) * plane, y + ((n0 + b) * c_out + co) * plane, plane * sizeof(float));
    }
  }
}

void gemm_to_nchw(const float* m, float* y, const float* bias, int64_t n0, int64_t images, int64_t c_out,
                  int64_t plane) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < images; ++b) {
    for (int64_t co = 0; co < c_out; ++co) {
      const float* src = m + (co * images + b) * plane;
      float* dst = y + ((n0 + b) * c_out + co) * plane;
      const float add = bias ? bias[co] : 0.0f;
      for (int64_t p = 0; p < plane; ++p) dst[p] = src[p] + add;
    }
  }
}

}  // namespace taper

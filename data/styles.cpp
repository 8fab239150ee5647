#include "data/styles.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>

#include "engine/rng.h"

namespace taper {

namespace {

// A float image plane: the scratch of every filter below. One allocation per
// plane per rendered image, never one per pixel.
struct Plane {
  int64_t h, w;
  std::vector<float> v;
  Plane(int64_t height, int64_t width, float fill = 0.0f) : h(height), w(width), v(height * width, fill) {}
  float& at(int64_t y, int64_t x) { return v[y * w + x]; }
  float at(int64_t y, int64_t x) const { return v[y * w + x]; }
  // Border pixels repeat outwards, so filters need no edge cases.
  float clamped(int64_t y, int64_t x) const { return at(std::clamp<int64_t>(y, 0, h - 1), std::clamp<int64_t>(x, 0, w - 1)); }
};

using Rgb = std::array<float, 3>;

constexpr float kTwoPi = 6.28318530717958647692f;

uint8_t to_byte(float v) { return static_cast<uint8_t>(std::clamp(v, 0.0f, 255.0f) + 0.5f); }
float luma(float r, float g, float b) { return 0.299f * r + 0.587f * g + 0.114f * b; }
float luma(const Rgb& c) { return luma(c[0], c[1], c[2]); }
float uniform(Generator& gen, float low, float high) {
  return low + (high - low) * static_cast<float>(gen.next_double());
}

Rgb pixel(const Image& im, int64_t y, int64_t x) {
  const uint8_t* p = im.at(y, x);
  return {float(p[0]), float(p[1]), float(p[2])};
}
void set_pixel(Image& im, int64_t y, int64_t x, const Rgb& c) {
  uint8_t* p = im.at(y, x);
  for (int k = 0; k < 3; ++k) p[k] = to_byte(c[k]);
}

Plane luminance(const Image& im) {
  Plane out(im.height, im.width);
  for (int64_t y = 0; y < im.height; ++y)
    for (int64_t x = 0; x < im.width; ++x) out.at(y, x) = luma(pixel(im, y, x));
  return out;
}

// Separable box filter of radius r; two passes approximate a Gaussian.
Plane box_blur(const Plane& p, int r) {
  Plane tmp(p.h, p.w), out(p.h, p.w);
  const float norm = 1.0f / float(2 * r + 1);
  for (int64_t y = 0; y < p.h; ++y)
    for (int64_t x = 0; x < p.w; ++x) {
      float s = 0;
      for (int d = -r; d <= r; ++d) s += p.clamped(y, x + d);
      tmp.at(y, x) = s * norm;
    }
  for (int64_t y = 0; y < p.h; ++y)
    for (int64_t x = 0; x < p.w; ++x) {
      float s = 0;
      for (int d = -r; d <= r; ++d) s += tmp.clamped(y + d, x);
      out.at(y, x) = s * norm;
    }
  return out;
}

struct Gradient {
  Plane gx, gy, mag;
};
Gradient sobel(const Plane& p) {
  Gradient g{Plane(p.h, p.w), Plane(p.h, p.w), Plane(p.h, p.w)};
  for (int64_t y = 0; y < p.h; ++y)
    for (int64_t x = 0; x < p.w; ++x) {
      auto c = [&](int dy, int dx) { return p.clamped(y + dy, x + dx); };
      const float gx = (c(-1, 1) + 2 * c(0, 1) + c(1, 1)) - (c(-1, -1) + 2 * c(0, -1) + c(1, -1));
      const float gy = (c(1, -1) + 2 * c(1, 0) + c(1, 1)) - (c(-1, -1) + 2 * c(-1, 0) + c(-1, 1));
      g.gx.at(y, x) = gx;
      g.gy.at(y, x) = gy;
      g.mag.at(y, x) = std::sqrt(gx * gx + gy * gy);
    }
  return g;
}

// The q-quantile of a plane's values (q in [0, 1]).
float quantile(const Plane& p, float q) {
  std::vector<float> v = p.v;
  auto k = v.begin() + std::min<int64_t>(int64_t(q * float(v.size())), int64_t(v.size()) - 1);
  std::nth_element(v.begin(), k, v.end());
  return *k;
}

// Uniform noise in [-1, 1), four pixels per 64-bit draw.
Plane noise(Generator& gen, int64_t h, int64_t w) {
  Plane out(h, w);
  for (size_t i = 0; i < out.v.size(); i += 4) {
    uint64_t bits = gen.next_u64();
    for (size_t k = i; k < std::min(i + 4, out.v.size()); ++k, bits >>= 16)
      out.v[k] = float(bits & 0xffff) / 32768.0f - 1.0f;
  }
  return out;
}

Image grey_image(const Plane& p) {
  Image out(p.h, p.w);
  for (int64_t y = 0; y < p.h; ++y)
    for (int64_t x = 0; x < p.w; ++x) {
      const uint8_t v = to_byte(p.at(y, x));
      std::fill_n(out.at(y, x), 3, v);
    }
  return out;
}

// h, s, v in [0, 1] -> RGB in [0, 255].
Rgb hsv(float h, float s, float v) {
  auto f = [&](float n) {
    const float k = std::fmod(n + h * 6.0f, 6.0f);
    return 255.0f * v * (1.0f - s * std::clamp(std::min(k, 4.0f - k), 0.0f, 1.0f));
  };
  return {f(5), f(3), f(1)};
}

// Sketch: a colour-dodge pencil drawing (grey divided by its blurred
// negative, which whitens flat areas and keeps contours) darkened along Sobel
// edges with a random pencil pressure, on grainy paper.
Image sketch(const Image& im, Generator& gen) {
  const Plane g = luminance(im);
  Plane neg(g.h, g.w);
  for (size_t i = 0; i < g.v.size(); ++i) neg.v[i] = 255.0f - g.v[i];
  const Plane blur = box_blur(box_blur(neg, 1), 1);
  const Plane edges = sobel(g).mag;
  const float edge_scale = 1.0f / std::max(quantile(edges, 0.93f), 8.0f);
  const float pressure = uniform(gen, 0.45f, 0.7f);
  const Plane grain = noise(gen, g.h, g.w);
  Plane out(g.h, g.w);
  for (size_t i = 0; i < g.v.size(); ++i) {
    const float dodge = std::min(255.0f, g.v[i] * 255.0f / (256.0f - blur.v[i]));
    const float stroke = std::pow(std::min(1.0f, edges.v[i] * edge_scale), 1.5f);
    out.v[i] = dodge * (1.0f - pressure * stroke) + 6.0f * grain.v[i];
  }
  return grey_image(out);
}

// Kuwahara filter at (y, x): the mean colour of the flattest (least
// luminance variance) of the four 3x3 quadrants meeting at the pixel, which
// flattens texture into patches but keeps edges.
Rgb kuwahara(const Image& im, const Plane& lum, int64_t y, int64_t x) {
  Rgb best{};
  float best_var = INFINITY;
  for (int qy : {-2, 0})
    for (int qx : {-2, 0}) {
      Rgb sum{};
      float s = 0, s2 = 0;
      for (int dy = 0; dy <= 2; ++dy)
        for (int dx = 0; dx <= 2; ++dx) {
          const int64_t yy = std::clamp<int64_t>(y + qy + dy, 0, im.height - 1);
          const int64_t xx = std::clamp<int64_t>(x + qx + dx, 0, im.width - 1);
          const Rgb c = pixel(im, yy, xx);
          for (int k = 0; k < 3; ++k) sum[k] += c[k];
          s += lum.at(yy, xx);
          s2 += lum.at(yy, xx) * lum.at(yy, xx);
        }
      const float var = s2 / 9 - (s / 9) * (s / 9);
      if (var < best_var) best_var = var, best = {sum[0] / 9, sum[1] / 9, sum[2] / 9};
    }
  return best;
}

// Painting: Kuwahara brush patches, stronger saturation, a random warm
// varnish tint and a woven canvas texture with random grain.
Image painting(const Image& im, Generator& gen) {
  const Plane lum = luminance(im);
  Image out(im.height, im.width);
  const Rgb tint = {uniform(gen, 1.08f, 1.22f), uniform(gen, 0.95f, 1.08f), uniform(gen, 0.68f, 0.85f)};
  const float phase = uniform(gen, 0.0f, kTwoPi);
  const Plane grain = noise(gen, im.height, im.width);
  for (int64_t y = 0; y < im.height; ++y)
    for (int64_t x = 0; x < im.width; ++x) {
      const Rgb patch = kuwahara(im, lum, y, x);
      const float l = luma(patch);
      const float weave = std::sin(kTwoPi * float(x) / 3.0f + phase) * std::sin(kTwoPi * float(y) / 3.0f);
      const float canvas = 1.0f + 0.09f * weave + 0.06f * grain.at(y, x);
      Rgb c;
      for (int k = 0; k < 3; ++k) c[k] = (l + 1.7f * (patch[k] - l)) * tint[k] * canvas;
      set_pixel(out, y, x, c);
    }
  return out;
}

// k-means in RGB with centres seeded at luminance quantiles (deterministic).
constexpr int kClipartColours = 5;
std::vector<int> kmeans(const std::vector<Rgb>& px, std::array<Rgb, kClipartColours>& centre) {
  const int64_t n = int64_t(px.size());
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  for (int j = 0; j < kClipartColours; ++j) {
    const auto k = order.begin() + (2 * j + 1) * n / (2 * kClipartColours);
    std::nth_element(order.begin(), k, order.end(), [&](int64_t a, int64_t b) { return luma(px[a]) < luma(px[b]); });
    centre[j] = px[*k];
  }
  std::vector<int> label(n);
  for (int iter = 0; iter < 6; ++iter) {
    std::array<Rgb, kClipartColours> sum{};
    std::array<int64_t, kClipartColours> count{};
    for (int64_t i = 0; i < n; ++i) {
      float best = INFINITY;
      for (int j = 0; j < kClipartColours; ++j) {
        float d = 0;
        for (int k = 0; k < 3; ++k) d += (px[i][k] - centre[j][k]) * (px[i][k] - centre[j][k]);
        if (d < best) best = d, label[i] = j;
      }
      for (int k = 0; k < 3; ++k) sum[label[i]][k] += px[i][k];
      ++count[label[i]];
    }
    for (int j = 0; j < kClipartColours; ++j)
      if (count[j] > 0)
        for (int k = 0; k < 3; ++k) centre[j][k] = sum[j][k] / float(count[j]);
  }
  return label;
}

// 3x3 majority vote over labels: removes single-pixel specks so that the
// regions (and their outlines) are flat.
std::vector<int> majority(const std::vector<int>& label, int64_t h, int64_t w) {
  std::vector<int> out(label.size());
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      std::array<int, kClipartColours> votes{};
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx)
          ++votes[label[std::clamp<int64_t>(y + dy, 0, h - 1) * w + std::clamp<int64_t>(x + dx, 0, w - 1)]];
      out[y * w + x] = int(std::max_element(votes.begin(), votes.end()) - votes.begin());
    }
  return out;
}

// 3x3 mean of an RGB image, row-major, as floats.
std::vector<Rgb> smooth(const Image& im) {
  std::vector<Rgb> out(im.height * im.width);
  for (int64_t y = 0; y < im.height; ++y)
    for (int64_t x = 0; x < im.width; ++x) {
      Rgb& sum = out[y * im.width + x];
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          const uint8_t* c = im.at(std::clamp<int64_t>(y + dy, 0, im.height - 1), std::clamp<int64_t>(x + dx, 0, im.width - 1));
          for (int k = 0; k < 3; ++k) sum[k] += float(c[k]) / 9.0f;
        }
    }
  return out;
}

// Clipart: five flat, saturated colours (k-means on the smoothed image, so
// texture does not split regions), specks voted away, a dark outline
// wherever two colour regions meet.
Image clipart(const Image& im) {
  std::array<Rgb, kClipartColours> centre;
  const std::vector<int> label = majority(kmeans(smooth(im), centre), im.height, im.width);
  for (Rgb& c : centre) {
    const float l = luma(c);
    for (int k = 0; k < 3; ++k) c[k] = 1.15f * (l + 1.8f * (c[k] - l)) + 10.0f;
  }
  Image out(im.height, im.width);
  const Rgb ink = {30, 25, 35};
  for (int64_t y = 0; y < im.height; ++y)
    for (int64_t x = 0; x < im.width; ++x) {
      const int l = label[y * im.width + x];
      const bool edge = (x + 1 < im.width && label[y * im.width + x + 1] != l) ||
                        (y + 1 < im.height && label[(y + 1) * im.width + x] != l);
      set_pixel(out, y, x, edge ? ink : centre[l]);
    }
  return out;
}

// Canny-like thin edges: Sobel maxima along the gradient direction above
// the image's own 80th percentile (so every image gets some strokes).
std::vector<uint8_t> thin_edges(const Plane& g) {
  const Gradient s = sobel(g);
  const float threshold = std::max(quantile(s.mag, 0.8f), 30.0f);
  std::vector<uint8_t> edge(g.v.size(), 0);
  for (int64_t y = 0; y < g.h; ++y)
    for (int64_t x = 0; x < g.w; ++x) {
      const float m = s.mag.at(y, x);
      if (m < threshold) continue;
      // The neighbour step along the gradient, quantised to 45 degrees.
      const float angle = std::atan2(s.gy.at(y, x), s.gx.at(y, x));
      const int dir = int(std::lround(angle / (kTwoPi / 8))) & 3;
      static constexpr int kStep[4][2] = {{0, 1}, {1, 1}, {1, 0}, {1, -1}};
      const int dy = kStep[dir][0], dx = kStep[dir][1];
      if (m >= s.mag.clamped(y + dy, x + dx) && m >= s.mag.clamped(y - dy, x - dx)) edge[y * g.w + x] = 1;
    }
  return edge;
}

// Quickdraw: binary thin black strokes on white, as a hasty hand would draw
// them: thin edges, displaced by a random smooth wobble, isolated dots dropped.
Image quickdraw(const Image& im, Generator& gen) {
  const std::vector<uint8_t> edge = thin_edges(box_blur(luminance(im), 1));
  const float amp = uniform(gen, 0.8f, 1.6f), phase_x = uniform(gen, 0, kTwoPi), phase_y = uniform(gen, 0, kTwoPi);
  const float wavelength = uniform(gen, 9.0f, 16.0f);
  const int64_t h = im.height, w = im.width;
  auto stroke_at = [&](int64_t y, int64_t x) {
    const int64_t sy = y + std::lround(amp * std::sin(kTwoPi * float(x) / wavelength + phase_y));
    const int64_t sx = x + std::lround(amp * std::sin(kTwoPi * float(y) / wavelength + phase_x));
    return sy >= 0 && sy < h && sx >= 0 && sx < w && edge[sy * w + sx];
  };
  std::vector<uint8_t> stroke(h * w);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) stroke[y * w + x] = stroke_at(y, x);
  Plane out(h, w, 255.0f);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      if (!stroke[y * w + x]) continue;
      int neighbours = 0;
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          const int64_t yy = y + dy, xx = x + dx;
          neighbours += (dy || dx) && yy >= 0 && yy < h && xx >= 0 && xx < w && stroke[yy * w + xx];
        }
      if (neighbours > 0) out.at(y, x) = 0.0f;
    }
  return grey_image(out);
}

// A strip of "text": white with dark word-like runs on every other row.
void text_band(Image& out, int64_t top, int64_t rows, Generator& gen) {
  for (int64_t y = top; y < top + rows; ++y) {
    const bool text_row = (y - top) % 2 == 1 && y < top + rows - 1;
    int64_t x = 1 + int64_t(gen.below(2));
    for (int64_t xx = 0; xx < out.width; ++xx) set_pixel(out, y, xx, {245, 245, 240});
    while (text_row && x < out.width - 1) {
      const int64_t word = 2 + int64_t(gen.below(5));
      for (int64_t xx = x; xx < std::min(x + word, out.width - 1); ++xx) set_pixel(out, y, xx, {40, 40, 60});
      x += word + 1;
    }
  }
}

// Infograph: contrast-stretched brightness posterised to four levels and
// remapped to a random vivid four-hue palette (dark to light, so the shape
// survives), a light layout grid, and a band of text at the top or bottom.
Image infograph(const Image& im, Generator& gen) {
  const Plane lum = luminance(im);
  const float lo = quantile(lum, 0.05f), hi = std::max(quantile(lum, 0.95f), lo + 1.0f);
  const float hue = uniform(gen, 0.0f, 1.0f), hue_step = uniform(gen, 0.15f, 0.35f);
  std::array<Rgb, 4> palette;
  for (int j = 0; j < 4; ++j) palette[j] = hsv(std::fmod(hue + hue_step * float(j), 1.0f), 0.85f, 0.3f + 0.23f * float(j));
  const int64_t grid = 8, grid_offset = int64_t(gen.below(grid));
  Image out(im.height, im.width);
  for (int64_t y = 0; y < im.height; ++y)
    for (int64_t x = 0; x < im.width; ++x) {
      const float t = std::clamp((lum.at(y, x) - lo) / (hi - lo), 0.0f, 0.999f);
      Rgb c = palette[int(t * 4)];
      if ((x + grid_offset) % grid == 0 || (y + grid_offset) % grid == 0)
        for (float& v : c) v = 0.6f * v + 0.4f * 255.0f;
      set_pixel(out, y, x, c);
    }
  const int64_t rows = std::min(im.height, std::max<int64_t>(3, im.height / 5));
  text_band(out, gen.below(2) ? 0 : im.height - rows, rows, gen);
  return out;
}

}  // namespace

const std::vector<Style>& all_styles() {
  static const std::vector<Style> styles = {Style::Real,     Style::Sketch,    Style::Painting,
                                            Style::Clipart,  Style::Quickdraw, Style::Infograph};
  return styles;
}

const std::vector<std::string>& style_names() {
  static const std::vector<std::string> names = {"real", "sketch", "painting", "clipart", "quickdraw", "infograph"};
  return names;
}

const std::string& style_name(Style style) { return style_names().at(static_cast<size_t>(style)); }

Style style_from_name(const std::string& name) {
  const auto& names = style_names();
  const auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end()) throw DataError("unknown style '" + name + "'");
  return all_styles()[it - names.begin()];
}

Image render_style(const Image& image, Style style, uint64_t seed, int64_t index) {
  if (image.channels != 3 || image.height <= 0 || image.width <= 0)
    throw DataError("render_style: need a non-empty RGB image");
  Generator gen = Generator(seed).fork(static_cast<uint64_t>(style)).fork(static_cast<uint64_t>(index));
  switch (style) {
    case Style::Real: return image;
    case Style::Sketch: return sketch(image, gen);
    case Style::Painting: return painting(image, gen);
    case Style::Clipart: return clipart(image);
    case Style::Quickdraw: return quickdraw(image, gen);
    case Style::Infograph: return infograph(image, gen);
  }
  throw DataError("render_style: unknown style");
}

StyledImageStore::StyledImageStore(std::shared_ptr<const ImageStore> base, std::vector<Style> style_of_image,
                                   uint64_t seed)
    : base_(std::move(base)), style_of_image_(std::move(style_of_image)), seed_(seed) {
  if (int64_t(style_of_image_.size()) != base_->size())
    throw std::invalid_argument("StyledImageStore: one style per base image");
}

Image StyledImageStore::image(int64_t index) const {
  if (index < 0 || index >= size()) throw DataError("styled image index " + std::to_string(index) + " out of range");
  return render_style(base_->image(index), style_of_image_[index], seed_, index);
}

Dataset make_styled_dataset(const Dataset& base, const std::vector<Style>& styles, uint64_t seed) {
  if (styles.empty()) throw std::invalid_argument("make_styled_dataset: no styles");
  Dataset out;
  out.name = base.name + "-styles";
  out.split = base.split;
  out.meta = base.meta;
  out.meta.domain_names.clear();
  for (Style s : styles) out.meta.domain_names.push_back(style_name(s));
  out.labels = base.labels;
  std::vector<int64_t> seen_of_class(base.meta.num_classes(), 0);
  std::vector<Style> style_of_image;
  for (int64_t label : base.labels) {
    const int64_t s = seen_of_class.at(label)++ % int64_t(styles.size());
    out.domains.push_back(s);
    style_of_image.push_back(styles[s]);
  }
  out.images = std::make_shared<StyledImageStore>(base.images, std::move(style_of_image), seed);
  return out;
}

}  // namespace taper

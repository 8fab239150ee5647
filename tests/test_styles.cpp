// Synthetic style domains: determinism, distinct looks (on real CIFAR-100
// photos too, when a copy is around), the lazy styled dataset, and the
// preview pictures (data/preview.h) drawn from it.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "data/cifar100.h"
#include "data/preview.h"
#include "data/styles.h"
#include "engine/rng.h"

using namespace taper;
namespace fs = std::filesystem;

namespace {

// A 32x32 "object": a reddish disc with a darker stripe on a blue-green
// gradient, plus mild noise, so every style has edges and colours to work on.
Image test_image(uint64_t seed) {
  Image im(32, 32);
  Generator gen(seed);
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 32; ++x) {
      const bool disc = (y - 15) * (y - 15) + (x - 17) * (x - 17) < 100;
      const bool stripe = disc && y > 13 && y < 17;
      const int noise = static_cast<int>(gen.below(21)) - 10;
      const int r = disc ? (stripe ? 90 : 210) : 40 + 3 * x, g = disc ? 60 : 90 + 2 * y, b = disc ? 50 : 160;
      uint8_t* p = im.at(y, x);
      p[0] = uint8_t(std::clamp(r + noise, 0, 255));
      p[1] = uint8_t(std::clamp(g + noise, 0, 255));
      p[2] = uint8_t(std::clamp(b + noise, 0, 255));
    }
  return im;
}

double mean_abs_diff(const Image& a, const Image& b) {
  double sum = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) sum += std::abs(int(a.pixels[i]) - int(b.pixels[i]));
  return sum / double(a.pixels.size());
}

bool is_grey(const Image& im) {
  for (size_t i = 0; i < im.pixels.size(); i += 3)
    if (im.pixels[i] != im.pixels[i + 1] || im.pixels[i] != im.pixels[i + 2]) return false;
  return true;
}

// The shared data folder, $TAPER_DATA or ./data holding `name`; empty if none does.
std::string find_data(const std::string& name) {
  std::vector<std::string> roots = {std::string(TAPER_SOURCE_DIR) + "/../shared/data"};
  if (const char* root = std::getenv("TAPER_DATA")) roots.emplace_back(root);
  roots.emplace_back("data");
  for (const std::string& root : roots)
    if (fs::exists(root + "/" + name)) return root + "/" + name;
  return {};
}

const std::vector<Style> kRandomStyles = {Style::Sketch, Style::Painting, Style::Quickdraw, Style::Infograph};

}  // namespace

TEST_CASE("styles: names round-trip; unknown names and empty images are DataErrors") {
  REQUIRE(style_names().size() == all_styles().size());
  CHECK(all_styles().size() >= 6);
  for (Style s : all_styles()) CHECK(style_from_name(style_name(s)) == s);
  CHECK(style_name(Style::Real) == "real");
  CHECK_THROWS_AS(style_from_name("watercolour"), DataError);
  CHECK_THROWS_AS(render_style(Image(), Style::Sketch, 1, 0), DataError);
  CHECK_THROWS_AS(render_style(Image(8, 8, 1), Style::Sketch, 1, 0), DataError);
}

TEST_CASE("styles: a rendering is a pure function of (seed, index), on any thread") {
  const Image im = test_image(3);
  for (Style s : all_styles()) {
    CAPTURE(style_name(s));
    const Image a = render_style(im, s, 7, 12);
    CHECK(a.height == im.height);
    CHECK(a.width == im.width);
    CHECK(a.channels == 3);
    CHECK(a.pixels == render_style(im, s, 7, 12).pixels);
  }
  for (Style s : kRandomStyles) {
    CAPTURE(style_name(s));
    CHECK(render_style(im, s, 7, 12).pixels != render_style(im, s, 7, 13).pixels);
    CHECK(render_style(im, s, 7, 12).pixels != render_style(im, s, 8, 12).pixels);
  }
  CHECK(render_style(im, Style::Real, 7, 12).pixels == im.pixels);
  // Rendered in parallel, each image still gets its own (seed, index) bytes.
  std::vector<Image> serial(16), parallel(16);
  for (int i = 0; i < 16; ++i) serial[i] = render_style(test_image(i), Style::Painting, 5, i);
#pragma omp parallel for num_threads(2)
  for (int i = 0; i < 16; ++i) parallel[i] = render_style(test_image(i), Style::Painting, 5, i);
  for (int i = 0; i < 16; ++i) CHECK(serial[i].pixels == parallel[i].pixels);
}

TEST_CASE("styles: any image size renders, keeping its size") {
  Generator gen(2);
  for (auto [h, w] : {std::pair<int64_t, int64_t>{1, 1}, {2, 3}, {5, 40}, {64, 64}}) {
    Image im(h, w);
    for (uint8_t& p : im.pixels) p = uint8_t(gen.below(256));
    for (Style s : all_styles()) {
      const Image out = render_style(im, s, 1, 0);
      CHECK(out.height == h);
      CHECK(out.width == w);
      CHECK(out.pixels.size() == im.pixels.size());
    }
  }
}

TEST_CASE("styles: every style differs substantially from real and from every other style") {
  const Image im = test_image(4);
  std::vector<Image> rendered;
  for (Style s : all_styles()) rendered.push_back(render_style(im, s, 1, 0));
  for (size_t a = 0; a < rendered.size(); ++a)
    for (size_t b = a + 1; b < rendered.size(); ++b) {
      CAPTURE(style_names()[a]);
      CAPTURE(style_names()[b]);
      CHECK(mean_abs_diff(rendered[a], rendered[b]) > 20.0);
    }
}

TEST_CASE("styles: sketch and quickdraw are grey; quickdraw is black strokes on white") {
  const Image im = test_image(5);
  CHECK(is_grey(render_style(im, Style::Sketch, 1, 0)));
  const Image q = render_style(im, Style::Quickdraw, 1, 0);
  CHECK(is_grey(q));
  const auto black = std::count(q.pixels.begin(), q.pixels.end(), 0);
  CHECK(black + std::count(q.pixels.begin(), q.pixels.end(), 255) == int64_t(q.pixels.size()));
  CHECK(black > 0);
  CHECK(black < int64_t(q.pixels.size()) / 3);  // thin strokes, mostly paper
  for (Style s : {Style::Painting, Style::Clipart, Style::Infograph}) CHECK_FALSE(is_grey(render_style(im, s, 1, 0)));
}

// Seven test images of classes a, b, c (b has none), in one domain.
Dataset toy_base() {
  const int64_t n = 7;
  std::vector<uint8_t> pixels;
  for (int64_t i = 0; i < n; ++i) {
    const Image im = test_image(10 + i);
    pixels.insert(pixels.end(), im.pixels.begin(), im.pixels.end());
  }
  Dataset base;
  base.name = "toy";
  base.split = "train";
  base.meta.class_names = {"a", "b", "c"};
  base.meta.domain_names = {"real"};
  base.labels = {2, 0, 0, 2, 0, 0, 2};
  base.domains = std::vector<int64_t>(n, 0);
  base.images = std::make_shared<MemoryImageStore>(n, 32, 32, pixels);
  return base;
}

TEST_CASE("styles: the styled dataset draws each image once, a class's images taking the styles in turn") {
  const Dataset base = toy_base();
  const int64_t n = base.size();
  const std::vector<Style> styles = {Style::Real, Style::Clipart, Style::Quickdraw};
  const Dataset d = make_styled_dataset(base, styles, 9);
  CHECK(d.name == "toy-styles");
  CHECK(d.split == "train");
  CHECK(d.meta.class_names == base.meta.class_names);
  CHECK(d.meta.domain_names == std::vector<std::string>{"real", "clipart", "quickdraw"});
  CHECK(d.size() == n);
  CHECK(d.images->size() == n);
  CHECK(d.labels == base.labels);
  // class 2: images 0, 3, 6 -> styles 0, 1, 2; class 0: images 1, 2, 4, 5 -> 0, 1, 2, 0
  CHECK(d.domains == std::vector<int64_t>{0, 0, 1, 1, 2, 0, 2});
  for (int64_t i = 0; i < d.size(); ++i)
    CHECK(d.images->image(i).pixels == render_style(base.images->image(i), styles[d.domains[i]], 9, i).pixels);
  CHECK(d.images->image(0).pixels == base.images->image(0).pixels);  // real is the unchanged image
  CHECK(d.images->image(3).pixels != base.images->image(3).pixels);
  CHECK_THROWS_AS(d.images->image(n), DataError);
  CHECK_THROWS_AS(d.images->image(-1), DataError);
  CHECK_THROWS_AS(make_styled_dataset(base, {}, 9), std::invalid_argument);
}

TEST_CASE("styles: preview_grid upscales by nearest neighbour into grey-separated cells") {
  Image a(2, 2), b(1, 2);
  for (size_t i = 0; i < a.pixels.size(); ++i) a.pixels[i] = uint8_t(10 + i);
  std::fill(b.pixels.begin(), b.pixels.end(), uint8_t{200});
  const Image g = preview_grid({{a, b}, {b}}, 3);
  const int64_t gap = 4, cell = 6;
  CHECK(g.height == 2 * (cell + gap) + gap);
  CHECK(g.width == 2 * (cell + gap) + gap);
  CHECK(g.at(0, 0)[0] == 128);  // the gap
  for (int64_t y = 0; y < 6; ++y)
    for (int64_t x = 0; x < 6; ++x)
      for (int c = 0; c < 3; ++c) CHECK(g.at(gap + y, gap + x)[c] == a.at(y / 3, x / 3)[c]);
  CHECK(g.at(gap, 2 * gap + cell)[0] == 200);           // b in row 0, column 1
  CHECK(g.at(gap + 3, 2 * gap + cell)[0] == 128);       // below b's 3 rows: background
  CHECK(g.at(2 * gap + cell, gap)[0] == 200);           // b in row 1
  CHECK(g.at(2 * gap + cell, 2 * gap + cell)[0] == 128);  // row 1 has no second image
  CHECK_THROWS_AS(preview_grid({}, 3), std::invalid_argument);
  CHECK_THROWS_AS(preview_grid({{}}, 3), std::invalid_argument);
  CHECK_THROWS_AS(preview_grid({{a}}, 0), std::invalid_argument);
}

TEST_CASE("styles: on real CIFAR-100 photos every style stays far from every other") {
  const std::string dir = find_data("cifar-100-binary");
  if (dir.empty()) {
    MESSAGE("no CIFAR-100 copy found; not checked");
    return;
  }
  const Dataset train = load_cifar100(dir, "train");
  // The first image of each of ten classes spread over the label range.
  std::vector<int64_t> picks;
  for (int64_t label = 3; label < 100 && picks.size() < 10; label += 10)
    for (int64_t i = 0; i < train.size(); ++i)
      if (train.labels[i] == label) {
        picks.push_back(i);
        break;
      }
  REQUIRE(picks.size() == 10);
  std::vector<std::vector<Image>> rows;
  for (Style s : all_styles()) {
    rows.emplace_back();
    for (int64_t i : picks) rows.back().push_back(render_style(train.images->image(i), s, 0, i));
  }
  for (size_t a = 0; a < rows.size(); ++a)
    for (size_t b = a + 1; b < rows.size(); ++b) {
      double diff = 0;
      for (size_t k = 0; k < picks.size(); ++k) diff += mean_abs_diff(rows[a][k], rows[b][k]) / double(picks.size());
      CAPTURE(style_names()[a]);
      CAPTURE(style_names()[b]);
      CHECK(diff > 20.0);
    }
}

TEST_CASE("styles: the preview shows a row per domain, each class's first image in it") {
  const Dataset d = make_styled_dataset(toy_base(), {Style::Real, Style::Clipart, Style::Quickdraw}, 9);
  // Domains {0, 0, 1, 1, 2, 0, 2} of labels {2, 0, 0, 2, 0, 0, 2}; class 1 has no image.
  const std::vector<std::vector<int64_t>> expected = {{1, 0}, {2, 3}, {4, 6}};
  const auto rows = domain_preview_rows(d, 10);
  REQUIRE(rows.size() == 3);
  for (size_t dom = 0; dom < rows.size(); ++dom) {
    CAPTURE(dom);
    REQUIRE(rows[dom].size() == expected[dom].size());
    for (size_t c = 0; c < rows[dom].size(); ++c) CHECK(rows[dom][c].pixels == d.images->image(expected[dom][c]).pixels);
  }
  // Two columns spread over three classes: labels 0 and 1.
  const auto two = domain_preview_rows(d, 2);
  CHECK(two[0].size() == 1);
  CHECK(two[0][0].pixels == d.images->image(1).pixels);
  CHECK_THROWS_AS(domain_preview_rows(d, 0), std::invalid_argument);
}

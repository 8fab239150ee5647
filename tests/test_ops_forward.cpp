// Forward values on hand-checked cases, and the argument checks every op
// makes before touching memory.
#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>

#include "engine/backend.h"
#include "engine/ops.h"
#include "tests/gradcheck.h"

using namespace taper;
using taper::testing::randn;

namespace {
// The convolution written as its definition, for comparison.
double direct_conv(const Tensor& x, const Tensor& w, const Tensor& b, int64_t n, int64_t co, int64_t oh, int64_t ow,
                   int stride, int pad) {
  const int64_t c_in = x.size(1), h = x.size(2), wd = x.size(3), kh = w.size(2), kw = w.size(3);
  double s = b.defined() ? b.f32()[co] : 0.0;
  for (int64_t c = 0; c < c_in; ++c) {
    for (int64_t i = 0; i < kh; ++i) {
      for (int64_t j = 0; j < kw; ++j) {
        const int64_t ih = oh * stride - pad + i, iw = ow * stride - pad + j;
        if (ih < 0 || ih >= h || iw < 0 || iw >= wd) continue;
        s += x.f32()[((n * c_in + c) * h + ih) * wd + iw] * w.f32()[((co * c_in + c) * kh + i) * kw + j];
      }
    }
  }
  return s;
}
}  // namespace

TEST_CASE("forward: conv2d matches a direct sum over kernel sizes, strides and paddings") {
  uint64_t seed = 1;
  for (int64_t k : {1, 2, 3, 7}) {
    for (int stride : {1, 2, 3}) {
      for (int pad : {0, 1, 2, 3}) {
        for (int64_t size : {1, 2, 5, 8, 11}) {
          if (size + 2 * pad < k) continue;
          CAPTURE(k);
          CAPTURE(stride);
          CAPTURE(pad);
          CAPTURE(size);
          Tensor x = randn({2, 2, size, size}, seed++), w = randn({3, 2, k, k}, seed++), b = randn({3}, seed++);
          Tensor y = conv2d(x, w, b, {stride, pad});
          bool all_match = true;
          for (int64_t n = 0; n < y.size(0); ++n) {
            for (int64_t co = 0; co < y.size(1); ++co) {
              for (int64_t oh = 0; oh < y.size(2); ++oh) {
                for (int64_t ow = 0; ow < y.size(3); ++ow) {
                  const double want = direct_conv(x, w, b, n, co, oh, ow, stride, pad);
                  const float got = y.f32()[((n * y.size(1) + co) * y.size(2) + oh) * y.size(3) + ow];
                  all_match = all_match && std::fabs(got - want) <= 1e-4 * (1 + std::fabs(want));
                }
              }
            }
          }
          CHECK(all_match);
        }
      }
    }
  }
}

// engine/cpu/conv2d.cpp picks the direct 3x3 kernel (up to 64 x 64
// channels), image groups or one batched GEMM (over 2^20 weights) by shape:
// below, the first three cases take the direct kernel, 72 -> 72 image groups,
// 256 -> 520 the batched GEMM and 128 -> 72 at 24x24 one image in tiles of 8
// output rows (im2col's plane shifts with a row offset), 72 -> 80 with
// stride 2 on an 8x8 map im2col's phase planes; above, the 3x3 cases with stride 1 or 2 and
// padding up to 2 take the direct kernel, the others image groups.
TEST_CASE("forward: conv2d at layer sizes, by image groups (many groups), tiles of rows and batched (large weights)") {
  struct Case {
    Shape x, w;
    int stride;
  };
  uint64_t seed = 100;
  for (const Case& c : {Case{{20, 16, 8, 8}, {16, 16, 3, 3}, 1}, Case{{9, 8, 9, 9}, {24, 8, 3, 3}, 2},
                        Case{{11, 5, 7, 9}, {6, 5, 3, 3}, 1}, Case{{2, 72, 6, 6}, {72, 72, 3, 3}, 1},
                        Case{{3, 256, 4, 4}, {520, 256, 3, 3}, 1}, Case{{1, 128, 24, 24}, {72, 128, 3, 3}, 1},
                        Case{{3, 72, 8, 8}, {80, 72, 3, 3}, 2},
                        // the direct kernel straight into y (rows of whole vectors): 16 vectors a map
                        // (5 blocks of 3 and one of 1), 5 = 4 + 1 channels; then 8x8 from stride 2,
                        // 3 images (channel blocks shared out)
                        Case{{9, 3, 8, 16}, {5, 3, 3, 3}, 1}, Case{{3, 6, 16, 16}, {5, 6, 3, 3}, 2},
                        // the direct 1x1 kernel (conv2d_pointwise.h): stride 2 from even rows (vector
                        // gathers) over 10 images, from odd rows (17 -> 9 columns) over 3 images
                        // (channel blocks shared out), and stride 1
                        Case{{10, 5, 16, 16}, {7, 5, 1, 1}, 2}, Case{{3, 6, 15, 17}, {9, 6, 1, 1}, 2},
                        Case{{2, 4, 4, 6}, {5, 4, 1, 1}, 1}}) {
    CAPTURE(c.w.str());
    Tensor x = randn(c.x, seed++), w = randn(c.w, seed++, 0.1f), b = randn({c.w[0]}, seed++);
    const int pad = static_cast<int>(c.w[2] / 2);
    Tensor y = conv2d(x, w, b, {c.stride, pad});
    double worst = 0.0;
    for (int64_t i = 0; i < y.numel(); i += 7) {  // every 7th output
      const int64_t ow = i % y.size(3), oh = i / y.size(3) % y.size(2), co = i / (y.size(3) * y.size(2)) % y.size(1),
                    n = i / (y.size(3) * y.size(2) * y.size(1));
      const double want = direct_conv(x, w, b, n, co, oh, ow, c.stride, pad);
      worst = std::max(worst, std::fabs(y.f32()[i] - want) / (1 + std::fabs(want)));
    }
    CHECK(worst <= 1e-4);
  }
}

TEST_CASE("forward: batch norm statistics and running-statistics update") {
  Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {3, 2});  // channel 0: 1,3,5; channel 1: 2,4,6
  Tensor gamma = Tensor::full({2}, 1.0f), beta = Tensor::zeros({2});
  Tensor mean = Tensor::zeros({2}), var = Tensor::full({2}, 1.0f);
  Tensor y = batch_norm(x, gamma, beta, mean, var, true, 0.1f, 0.0f);
  const float z = std::sqrt(1.5f);  // (1 - 3) / sqrt(8/3) = -sqrt(1.5)
  CHECK(y.f32()[0] == doctest::Approx(-z));
  CHECK(y.f32()[4] == doctest::Approx(z));
  CHECK(mean.f32()[0] == doctest::Approx(0.3f));  // 0.9 * 0 + 0.1 * 3
  CHECK(var.f32()[0] == doctest::Approx(0.9f + 0.1f * 4.0f));  // unbiased variance 4
  Tensor e = batch_norm(x, gamma, beta, mean, var, false, 0.1f, 0.0f);
  CHECK(e.f32()[0] == doctest::Approx((1.0f - 0.3f) / std::sqrt(1.3f)));
  CHECK(mean.f32()[0] == doctest::Approx(0.3f));  // evaluation leaves them alone
}

TEST_CASE("forward: pooling, softmax, cross-entropy, gather and mix") {
  Tensor x = Tensor::from_vector({1, 5, 2, 0, 3, 4, 9, 8, 7, 6, 2, 1, 0, 0, 0, 0}, {1, 1, 4, 4});
  CHECK(max_pool2d(x, 2, 2).to_vector() == std::vector<float>{5, 9, 7, 2});
  CHECK(global_avg_pool(x).item() == doctest::Approx(48.0f / 16.0f));
  Tensor logits = Tensor::from_vector({1000, 1000, 0, 0}, {2, 2});  // no overflow
  CHECK(softmax(logits).to_vector() == std::vector<float>{0.5f, 0.5f, 0.5f, 0.5f});
  CHECK(cross_entropy(logits, Tensor::from_labels({0, 1})).item() == doctest::Approx(std::log(2.0f)));
  Tensor g = gather_columns(Tensor::from_vector({0, 1, 2, 3, 4, 5}, {2, 3}), Tensor::from_labels({2, 0}));
  CHECK(g.to_vector() == std::vector<float>{2, 0, 5, 3});
  Tensor m = mix(Tensor::from_vector({0.25f, 0.75f}, {2}),
                 {Tensor::from_vector({4, 8}, {2}), Tensor::from_vector({0, 4}, {2})});
  CHECK(m.to_vector() == std::vector<float>{1, 5});
}

TEST_CASE("forward: transformer ops against hand-computed values") {
  // [1, 2] x [2, 2]^T per batch; the second batch doubles.
  Tensor a = Tensor::from_vector({1, 2, 2, 4}, {2, 1, 2}), b = Tensor::from_vector({1, 0, 0, 1, 1, 1, 2, 0}, {2, 2, 2});
  CHECK(batched_matmul(a, b, false, true).to_vector() == std::vector<float>{1, 2, 6, 4});
  CHECK(batched_matmul(a, b).to_vector() == std::vector<float>{1, 2, 10, 2});
  Tensor ln = layer_norm(Tensor::from_vector({1, 3, 5, 5}, {2, 2}), Tensor::from_vector({2, 1}, {2}),
                         Tensor::from_vector({0, 10}, {2}));
  CHECK(ln.to_vector()[0] == doctest::Approx(-2.0f).epsilon(1e-4));
  CHECK(ln.to_vector()[1] == doctest::Approx(11.0f).epsilon(1e-4));
  CHECK(ln.to_vector()[2] == 0.0f);  // a constant row normalises to beta
  CHECK(ln.to_vector()[3] == 10.0f);
  CHECK(l2_normalize(Tensor::from_vector({3, 4, 0, 0}, {2, 2})).to_vector() == std::vector<float>{0.6f, 0.8f, 0, 0});
  CHECK(gelu(Tensor::from_vector({0, 1, -1}, {3})).to_vector()[1] == doctest::Approx(0.8413447f));
  CHECK(gelu(Tensor::from_vector({-1}, {1})).item() == doctest::Approx(-0.1586553f));
  Tensor sm = masked_softmax(Tensor::from_vector({0, 0, 50, 1, 2, 3}, {2, 1, 3}), Tensor::from_vector({1, 1, 0, 0, 0, 0}, {2, 3}));
  CHECK(sm.to_vector() == std::vector<float>{0.5f, 0.5f, 0, 0, 0, 0});  // masked 50 ignored; all-masked row 0
  CHECK(embedding(Tensor::from_vector({0, 1, 2, 3, 4, 5}, {3, 2}), Tensor::from_labels({2, 0})).to_vector() ==
        std::vector<float>{4, 5, 0, 1});
  Tensor p = permute(Tensor::from_vector({0, 1, 2, 3, 4, 5}, {2, 3}), {1, 0});
  CHECK(p.shape() == Shape{3, 2});
  CHECK(p.to_vector() == std::vector<float>{0, 3, 1, 4, 2, 5});
}

TEST_CASE("forward: outputs never read their uninitialised memory") {
  // Regression: sum_rows with beta = 0 computed 0 * (garbage) and turned a
  // NaN left in fresh memory into a NaN bias gradient.
  Tensor x = Tensor::from_vector({1, 2, 3, 4}, {2, 2});
  Tensor out = Tensor::full({2}, std::nanf(""));
  backend_for(Device::cpu()).sum_rows(x, out, 0.0f);
  CHECK(out.to_vector() == std::vector<float>{4, 6});
}

TEST_CASE("bad input: ops reject wrong shapes, dtypes and indices with the op's name") {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4, 5});
  CHECK_THROWS_WITH_AS(matmul(a, b), doctest::Contains("matmul"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(add(a, b), doctest::Contains("[2, 3] and [4, 5]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv2d(Tensor::zeros({1, 3, 4, 4}), Tensor::zeros({2, 4, 3, 3}), Tensor()),
                       doctest::Contains("channels"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv2d(Tensor::zeros({1, 3, 2, 2}), Tensor::zeros({2, 3, 5, 5}), Tensor()),
                       doctest::Contains("larger than"), std::invalid_argument);
  CHECK_THROWS_AS(conv2d(Tensor::zeros({1, 3, 4, 4}), Tensor::zeros({2, 3, 3, 3}), Tensor(), {0, 0}),
                  std::invalid_argument);
  CHECK_THROWS_WITH_AS(cross_entropy(a, Tensor::from_labels({0, 3})), doctest::Contains("label 3"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(cross_entropy(a, Tensor::from_labels({0})), doctest::Contains("one label per row"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(gather_columns(a, Tensor::from_labels({-1})), doctest::Contains("index -1"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(mix(Tensor::zeros({2}), {Tensor::zeros({3}), Tensor::zeros({4})}),
                       doctest::Contains("basis 1"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(mix(Tensor::zeros({3}), {Tensor::zeros({3})}), doctest::Contains("1 bases"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(reshape(a, {4, -1}), doctest::Contains("-1"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(reshape(a, {7}), doctest::Contains("6 elements"), std::invalid_argument);
  Tensor m = Tensor::zeros({3}), v = Tensor::full({3}, 1.0f);
  CHECK_THROWS_WITH_AS(batch_norm(Tensor::zeros({2, 3, 2, 2}), Tensor::zeros({4}), Tensor::zeros({3}), m, v, true),
                       doctest::Contains("weight"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(batch_norm(Tensor::zeros({1, 3}), Tensor::zeros({3}), Tensor::zeros({3}), m, v, true),
                       doctest::Contains("more than one value"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(relu(Tensor::from_labels({1})), doctest::Contains("F32"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(add_relu(Tensor::zeros({2, 3}), Tensor::zeros({3, 2})), doctest::Contains("add_relu"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(batch_norm_relu(Tensor::zeros({2, 4}), Tensor::zeros({4}), Tensor::zeros({4}), m, v, true),
                       doctest::Contains("running_mean"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(batched_matmul(Tensor::zeros({2, 3, 4}), Tensor::zeros({2, 5, 4})),
                       doctest::Contains("batched_matmul"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(batched_matmul(Tensor::zeros({2, 3, 4}), Tensor::zeros({3, 4, 4})),
                       doctest::Contains("batch and inner"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(layer_norm(a, Tensor::zeros({2}), Tensor::zeros({3})), doctest::Contains("layer_norm"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(l2_normalize(Tensor::zeros({3})), doctest::Contains("2 dimensions"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(masked_softmax(Tensor::zeros({2, 1, 3}), Tensor::zeros({2, 4})), doctest::Contains("[B, C]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(embedding(a, Tensor::from_labels({0, 2})), doctest::Contains("embedding: index 2"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(embedding(a, Tensor::zeros({1})), doctest::Contains("I64"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(permute(a, {0, 0}), doctest::Contains("not a permutation"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(gelu(Tensor::from_labels({1})), doctest::Contains("F32"), std::invalid_argument);
  CHECK_THROWS_AS(Shape({1, 2, 3, 4, 5, 6}), std::invalid_argument);
  CHECK_THROWS_AS(Tensor::zeros({2}).to_labels(), std::invalid_argument);
}

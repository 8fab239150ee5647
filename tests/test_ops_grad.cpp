// Finite-difference gradient checks for every differentiable op.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/ops.h"
#include "tests/gradcheck.h"

using namespace taper;
using taper::testing::distinct;
using taper::testing::gradcheck;
using taper::testing::randn;
using V = std::vector<Tensor>;

TEST_CASE("gradcheck: matmul and linear") {
  CHECK(gradcheck([](const V& in) { return matmul(in[0], in[1]); }, {randn({3, 4}, 1), randn({4, 5}, 2)}) == "");
  CHECK(gradcheck([](const V& in) { return linear(in[0], in[1], in[2]); },
                  {randn({6, 4}, 3), randn({5, 4}, 4), randn({5}, 5)}) == "");
  CHECK(gradcheck([](const V& in) { return linear(in[0], in[1], Tensor()); }, {randn({2, 3}, 6), randn({4, 3}, 7)}) ==
        "");
}

TEST_CASE("gradcheck: conv2d over strides, paddings and kernel sizes") {
  struct Case {
    Shape x, w;
    int stride, padding;
    bool bias;
  };
  for (const Case& c : {Case{{2, 3, 6, 6}, {4, 3, 3, 3}, 1, 1, true}, Case{{2, 3, 7, 7}, {4, 3, 3, 3}, 2, 0, false},
                        Case{{1, 2, 8, 8}, {3, 2, 3, 3}, 2, 1, true}, Case{{3, 4, 5, 5}, {2, 4, 1, 1}, 1, 0, false},
                        Case{{1, 3, 9, 9}, {2, 3, 7, 7}, 2, 3, true}, Case{{2, 2, 5, 4}, {3, 2, 2, 3}, 1, 2, true},
                        // the direct 3x3 kernel: a block of 4 channels and one left over, stride 2, pad 2
                        Case{{2, 3, 5, 6}, {5, 3, 3, 3}, 2, 2, true},
                        // 1- and 2-pixel inputs: kernel columns that never touch the image.
                        Case{{2, 2, 1, 1}, {2, 2, 3, 3}, 1, 1, true}, Case{{1, 2, 2, 2}, {2, 2, 3, 3}, 2, 1, false},
                        // the direct 1x1 kernel: stride 2 onto a 4x4 map, stride 1 on a 2x4 one
                        Case{{2, 3, 8, 8}, {5, 3, 1, 1}, 2, 0, true}, Case{{2, 3, 2, 4}, {2, 3, 1, 1}, 1, 0, true}}) {
    CAPTURE(c.x.str());
    CAPTURE(c.w.str());
    V inputs{randn(c.x, 10), randn(c.w, 11, 0.3f)};
    if (c.bias) inputs.push_back(randn({c.w[0]}, 12));
    Conv2dOptions opt{c.stride, c.padding};
    CHECK(gradcheck([&](const V& in) { return conv2d(in[0], in[1], in.size() > 2 ? in[2] : Tensor(), opt); },
                    inputs) == "");
  }
}

// Finite differences are too slow at layer sizes; a convolution is linear in
// x and in w, so its gradients must satisfy <y, gy> = <x, gx> = <w, gw>, and
// grad_bias = the sum of gy over images and positions. Covers the four ways
// of engine/cpu/conv2d.cpp (the direct 3x3 and 1x1 kernels; image groups
// over several partitions; batched).
TEST_CASE("conv2d gradients at layer sizes are the adjoint of the forward") {
  struct Case {
    Shape x, w;
    int stride;
  };
  uint64_t seed = 200;
  for (const Case& c : {Case{{20, 16, 8, 8}, {16, 16, 3, 3}, 1}, Case{{9, 8, 9, 9}, {24, 8, 3, 3}, 2},
                        Case{{11, 5, 7, 9}, {6, 5, 3, 3}, 1}, Case{{37, 8, 4, 4}, {16, 8, 1, 1}, 2},
                        Case{{6, 48, 8, 8}, {48, 48, 3, 3}, 1},
                        // batched (over 2^20 weights), the stride-2 one through col2im
                        Case{{3, 256, 4, 4}, {520, 256, 3, 3}, 1}, Case{{3, 256, 5, 5}, {520, 256, 3, 3}, 2},
                        // direct stride-1 weight gradients (maps of 16x16 or more): 10 images over 8
                        // partitions and 7 = 4 + 3 channels; 32 -> 32, whose sums pass in chunks of input
                        // channels; between them a stride-2 layer (direct forward and weight gradients)
                        Case{{10, 6, 17, 18}, {7, 6, 3, 3}, 1}, Case{{3, 5, 33, 35}, {6, 5, 3, 3}, 2},
                        Case{{2, 32, 16, 16}, {32, 32, 3, 3}, 1},
                        // rows of whole vectors, where the weight gradient reads grad_y in place
                        Case{{3, 5, 32, 32}, {6, 5, 3, 3}, 2},
                        // the direct 1x1 kernel: even rows over 10 images (8 partitions, 7 = 4 + 3
                        // channels out, 5 = 3 + 2 in), odd rows over 3, stride 1
                        Case{{10, 5, 16, 16}, {7, 5, 1, 1}, 2}, Case{{3, 6, 15, 17}, {9, 6, 1, 1}, 2},
                        Case{{2, 4, 4, 6}, {5, 4, 1, 1}, 1}}) {
    CAPTURE(c.w.str());
    Tensor x = randn(c.x, seed++), w = randn(c.w, seed++, 0.1f), b = randn({c.w[0]}, seed++);
    for (Tensor* t : {&x, &w, &b}) t->set_requires_grad(true);
    Tensor y = conv2d(x, w, b, {c.stride, static_cast<int>(c.w[2] / 2)});
    const Tensor gy = randn(y.shape(), seed++);
    y.backward(gy);
    auto dot = [](const Tensor& a, const Tensor& b) {
      double s = 0.0;
      for (int64_t i = 0; i < a.numel(); ++i) s += double(a.f32()[i]) * b.f32()[i];
      return s;
    };
    double y_gy = 0.0, gy_sum = 0.0, bias_sum = 0.0;
    const int64_t plane = y.size(2) * y.size(3);
    for (int64_t i = 0; i < y.numel(); ++i) y_gy += (double(y.f32()[i]) - b.f32()[i / plane % y.size(1)]) * gy.f32()[i];
    for (int64_t i = 0; i < gy.numel(); ++i) gy_sum += gy.f32()[i];
    for (int64_t i = 0; i < b.numel(); ++i) bias_sum += b.grad().f32()[i];
    const double scale = 1e-4 * (1 + std::fabs(y_gy));
    CHECK(std::fabs(dot(x, x.grad()) - y_gy) <= scale);
    CHECK(std::fabs(dot(w, w.grad()) - y_gy) <= scale);
    CHECK(std::fabs(bias_sum - gy_sum) <= 1e-4 * (1 + std::fabs(gy_sum)));
  }
}

TEST_CASE("conv2d on an empty batch: an empty output and zero weight gradients, both ways") {
  for (const Shape& w_shape : {Shape{4, 3, 3, 3}, Shape{520, 256, 3, 3}}) {
    CAPTURE(w_shape.str());
    Tensor x = Tensor::zeros({0, w_shape[1], 5, 5}), w = randn(w_shape, 300, 0.1f), b = randn({w_shape[0]}, 301);
    w.set_requires_grad(true), b.set_requires_grad(true);
    Tensor y = conv2d(x, w, b, {1, 1});
    CHECK(y.shape() == Shape{0, w_shape[0], 5, 5});
    y.backward(Tensor::zeros(y.shape()));
    bool zero = true;
    for (int64_t i = 0; i < w.numel(); ++i) zero = zero && w.grad().f32()[i] == 0.0f;
    for (int64_t i = 0; i < b.numel(); ++i) zero = zero && b.grad().f32()[i] == 0.0f;
    CHECK(zero);
  }
}

TEST_CASE("gradcheck: batch norm 1d and 2d, training and evaluation, with and without ReLU") {
  for (auto [training, then_relu] : {std::pair{true, false}, {false, false}, {true, true}, {false, true}}) {
    for (Shape shape : {Shape{4, 3, 3, 3}, Shape{6, 5}}) {
      CAPTURE(training);
      CAPTURE(then_relu);
      CAPTURE(shape.str());
      const int64_t c = shape[1];
      Tensor mean = randn({c}, 20, 0.5f), var = Tensor::full({c}, 1.5f);
      auto f = [&](const V& in) {
        // Fresh running statistics each call: the check must see one function.
        Tensor m = mean.clone(), v = var.clone();
        return (then_relu ? batch_norm_relu : batch_norm)(in[0], in[1], in[2], m, v, training, 0.1f, 1e-5f);
      };
      CHECK(gradcheck(f, {randn(shape, 21), randn({c}, 22), randn({c}, 23)}) == "");
    }
  }
}

TEST_CASE("gradcheck: relu, add and scale") {
  CHECK(gradcheck([](const V& in) { return relu(in[0]); }, {distinct({3, 4, 5}, 30)}) == "");
  CHECK(gradcheck([](const V& in) { return add(in[0], in[1]); }, {randn({2, 7}, 31), randn({2, 7}, 32)}) == "");
  CHECK(gradcheck([](const V& in) { return add(in[0], in[0]); }, {randn({5}, 33)}) == "");
  CHECK(gradcheck([](const V& in) { return add_relu(in[0], in[1]); }, {distinct({2, 7}, 35), distinct({2, 7}, 36)}) ==
        "");
  CHECK(gradcheck([](const V& in) { return scale(in[0], -2.5f); }, {randn({4, 2}, 34)}) == "");
}

TEST_CASE("gradcheck: pooling") {
  CHECK(gradcheck([](const V& in) { return max_pool2d(in[0], 2, 2); }, {distinct({2, 3, 6, 6}, 40)}) == "");
  CHECK(gradcheck([](const V& in) { return max_pool2d(in[0], 3, 2, 1); }, {distinct({2, 2, 7, 7}, 41)}) == "");
  CHECK(gradcheck([](const V& in) { return global_avg_pool(in[0]); }, {randn({3, 4, 5, 5}, 42)}) == "");
}

TEST_CASE("gradcheck: reshape and flatten") {
  CHECK(gradcheck([](const V& in) { return reshape(in[0], {4, -1}); }, {randn({2, 2, 3}, 50)}) == "");
  CHECK(gradcheck([](const V& in) { return linear(flatten(in[0]), in[1], Tensor()); },
                  {randn({2, 3, 2, 2}, 51), randn({4, 12}, 52)}) == "");
}

TEST_CASE("gradcheck: softmax, log-softmax, cross-entropy and column gather") {
  CHECK(gradcheck([](const V& in) { return softmax(in[0]); }, {randn({3, 6}, 60)}) == "");
  CHECK(gradcheck([](const V& in) { return log_softmax(in[0]); }, {randn({3, 6}, 61)}) == "");
  Tensor labels = Tensor::from_labels({2, 0, 5, 5});
  CHECK(gradcheck([&](const V& in) { return cross_entropy(in[0], labels); }, {randn({4, 6}, 62, 2.0f)}) == "");
  // Repeated indices: their gradients add.
  Tensor index = Tensor::from_labels({4, 1, 4});
  CHECK(gradcheck([&](const V& in) { return gather_columns(in[0], index); }, {randn({3, 6}, 63)}) == "");
  // Classifier selection: the loss over the selected logits only.
  Tensor task = Tensor::from_labels({1, 3, 4}), task_labels = Tensor::from_labels({0, 2, 2});
  CHECK(gradcheck([&](const V& in) { return cross_entropy(gather_columns(in[0], task), task_labels); },
                  {randn({3, 6}, 64)}) == "");
}

TEST_CASE("gradcheck: basis mixing reaches alpha and every basis") {
  V inputs{randn({4}, 70), randn({3, 2, 2}, 71), randn({3, 2, 2}, 72), randn({3, 2, 2}, 73), randn({3, 2, 2}, 74)};
  CHECK(gradcheck([](const V& in) { return mix(in[0], V(in.begin() + 1, in.end())); }, inputs) == "");
  // Through a softmax over mixer logits into a convolution, as stage 3 uses it.
  V net{randn({2}, 75), randn({3, 2, 3, 3}, 76, 0.3f), randn({3, 2, 3, 3}, 77, 0.3f), randn({2, 2, 5, 5}, 78)};
  auto f = [](const V& in) {
    Tensor alpha = reshape(softmax(reshape(in[0], {1, 2})), {2});
    return conv2d(in[3], mix(alpha, {in[1], in[2]}), Tensor(), {1, 1});
  };
  CHECK(gradcheck(f, net) == "");
}

// Stage 3's one pass over its task groups: what G mix ops' backward passes
// give, the bases' gradients added to what they hold; 9,001 values span three
// of the CPU kernel's blocks. Mismatched inputs are refused by name.
TEST_CASE("mix_backward_groups: the sum of G mix backward passes; bad inputs") {
  const int groups = 3, q_count = 4;
  V bases, alphas, grads;
  for (int q = 0; q < q_count; ++q) bases.push_back(randn({9001}, 90 + q).set_requires_grad(true));
  for (int g = 0; g < groups; ++g) {
    alphas.push_back(randn({q_count}, 95 + g).set_requires_grad(true));
    grads.push_back(randn({9001}, 99 + g));
  }
  Tensor total;
  for (int g = 0; g < groups; ++g) {
    Tensor term = matmul(reshape(mix(alphas[g], bases), {1, -1}), reshape(grads[g], {-1, 1}));
    total = total.defined() ? add(total, term) : term;
  }
  total.backward();
  V grad_bases;
  for (int q = 0; q < q_count; ++q) grad_bases.push_back(randn({9001}, 110 + q));  // added to
  const V held = [&] { V c; for (const Tensor& t : grad_bases) c.push_back(t.clone()); return c; }();
  V plain_alphas;
  for (const Tensor& a : alphas) plain_alphas.push_back(a.detach());
  const V grad_alphas = mix_backward_groups(plain_alphas, bases, grads, grad_bases);
  auto close = [](const std::vector<float>& got, const std::vector<float>& want) {
    double worst = 0.0;
    for (size_t i = 0; i < want.size(); ++i)
      worst = std::max(worst, std::fabs(got[i] - want[i]) / (1e-5 + 1e-5 * std::fabs(want[i])));
    return worst <= 1.0;
  };
  for (int q = 0; q < q_count; ++q) {
    CAPTURE(q);
    std::vector<float> want = bases[q].grad().to_vector();
    const std::vector<float> before = held[q].to_vector();
    for (size_t i = 0; i < want.size(); ++i) want[i] += before[i];
    CHECK(close(grad_bases[q].to_vector(), want));
  }
  for (int g = 0; g < groups; ++g) CHECK(close(grad_alphas[g].to_vector(), alphas[g].grad().to_vector()));
  V none(q_count);  // undefined basis gradients are skipped: only the mixers' gradients
  CHECK(close(mix_backward_groups(plain_alphas, bases, grads, none)[1].to_vector(), alphas[1].grad().to_vector()));
  CHECK_THROWS_WITH_AS(mix_backward_groups(plain_alphas, bases, V(grads.begin(), grads.end() - 1), grad_bases),
                       doctest::Contains("3 mixers for 2 gradients"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(mix_backward_groups(plain_alphas, bases, {grads[0], grads[1], randn({9000}, 1)}, grad_bases),
                       doctest::Contains("gradient 2 has shape"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(mix_backward_groups(plain_alphas, V(bases.begin(), bases.end() - 1), grads, grad_bases),
                       doctest::Contains("4 basis gradients for 3 bases"), std::invalid_argument);
}

TEST_CASE("gradcheck: batched matmul with every transpose combination") {
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      CAPTURE(ta);
      CAPTURE(tb);
      const Shape a = ta ? Shape{3, 4, 2} : Shape{3, 2, 4}, b = tb ? Shape{3, 5, 4} : Shape{3, 4, 5};
      CHECK(gradcheck([&](const V& in) { return batched_matmul(in[0], in[1], ta, tb); },
                      {randn(a, 80), randn(b, 81)}) == "");
    }
  }
}

TEST_CASE("gradcheck: layer norm and L2 normalisation") {
  CHECK(gradcheck([](const V& in) { return layer_norm(in[0], in[1], in[2]); },
                  {randn({4, 6}, 90), randn({6}, 91), randn({6}, 92)}) == "");
  // BERT's eps: the normalised rows have unit variance almost exactly.
  CHECK(gradcheck([](const V& in) { return layer_norm(in[0], in[1], in[2], 1e-12f); },
                  {randn({3, 5}, 93, 2.0f), randn({5}, 94), randn({5}, 95)}) == "");
  CHECK(gradcheck([](const V& in) { return l2_normalize(in[0]); }, {randn({3, 5}, 96)}) == "");
  // A row below eps is divided by eps, a constant.
  CHECK(gradcheck([](const V& in) { return l2_normalize(in[0], 10.0f); }, {randn({2, 3}, 97)}) == "");
}

TEST_CASE("gradcheck: gelu, masked softmax, embedding and permute") {
  CHECK(gradcheck([](const V& in) { return gelu(in[0]); }, {randn({4, 5}, 100, 2.0f)}) == "");
  // Batch 0 keeps columns 0-2 (of 4), batch 1 all, as a padded attention mask.
  Tensor mask = Tensor::from_vector({1, 1, 1, 0, 1, 1, 1, 1}, {2, 4});
  CHECK(gradcheck([&](const V& in) { return masked_softmax(in[0], mask); }, {randn({2, 3, 4}, 101)}) == "");
  Tensor ids = Tensor::from_labels({2, 0, 2, 4});  // a repeated row adds up
  CHECK(gradcheck([&](const V& in) { return embedding(in[0], ids); }, {randn({5, 3}, 102)}) == "");
  CHECK(gradcheck([](const V& in) { return permute(in[0], {0, 2, 1, 3}); }, {randn({2, 3, 4, 2}, 103)}) == "");
  CHECK(gradcheck([](const V& in) { return permute(in[0], {2, 0, 1}); }, {randn({2, 3, 4}, 104)}) == "");
}

namespace {
// f's output and its inputs' gradients under a fixed cotangent, as raw floats.
std::vector<std::vector<float>> values_and_grads(const std::function<Tensor(const V&)>& f, const V& inputs) {
  V leaves;
  for (const Tensor& t : inputs) leaves.push_back(t.clone().set_requires_grad(true));
  Tensor out = f(leaves);
  out.backward(randn(out.shape(), 77));
  std::vector<std::vector<float>> all{out.to_vector()};
  for (const Tensor& t : leaves) all.push_back(t.grad().to_vector());
  return all;
}
}  // namespace

// The fused ops exist for speed only: a ResNet's numbers must not move.
TEST_CASE("fused batch_norm_relu and add_relu equal relu over the unfused op, bit for bit, values and gradients") {
  for (bool training : {true, false}) {
    CAPTURE(training);
    // 9x9 maps: rows of 81 values, a whole 8-lane part and a tail.
    const V in{randn({3, 4, 9, 9}, 40, 2.0f), randn({4}, 41), randn({4}, 42)};
    auto bn = [training](bool fused) {
      return [training, fused](const V& x) {
        Tensor m = Tensor::full({4}, 0.2f), v = Tensor::full({4}, 1.7f);
        return fused ? batch_norm_relu(x[0], x[1], x[2], m, v, training)
                     : relu(batch_norm(x[0], x[1], x[2], m, v, training));
      };
    };
    CHECK(values_and_grads(bn(true), in) == values_and_grads(bn(false), in));
  }
  const V pair{randn({2, 3, 5, 7}, 43), randn({2, 3, 5, 7}, 44)};
  CHECK(values_and_grads([](const V& x) { return add_relu(x[0], x[1]); }, pair) ==
        values_and_grads([](const V& x) { return relu(add(x[0], x[1])); }, pair));
}

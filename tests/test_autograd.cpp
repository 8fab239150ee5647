// Autograd semantics: the PyTorch contract students know.
#include <doctest/doctest.h>

#include <stdexcept>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "tests/gradcheck.h"

using namespace taper;

TEST_CASE("autograd: gradients accumulate across backward calls until zero_grad") {
  Tensor x = Tensor::from_vector({1, 2, 3}, {3}).set_requires_grad(true);
  Tensor w = Tensor::from_vector({1, 1, 1}, {3, 1}).set_requires_grad(true);
  auto loss = [&] { return matmul(reshape(x, {1, 3}), w); };
  loss().backward();
  CHECK(x.grad().to_vector() == std::vector<float>{1, 1, 1});
  loss().backward();
  CHECK(x.grad().to_vector() == std::vector<float>{2, 2, 2});
  CHECK(w.grad().to_vector() == std::vector<float>{2, 4, 6});
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
  loss().backward();
  CHECK(x.grad().to_vector() == std::vector<float>{1, 1, 1});
}

TEST_CASE("autograd: a tensor used twice receives the sum of both paths") {
  Tensor x = Tensor::from_vector({0.5f, -1.0f}, {2}).set_requires_grad(true);
  Tensor y = add(scale(x, 3.0f), relu(x));  // dy/dx = 3 + [x > 0]
  y.backward(Tensor::full({2}, 1.0f));
  CHECK(x.grad().to_vector() == std::vector<float>{4.0f, 3.0f});
}

TEST_CASE("autograd: intermediate tensors keep no gradient; leaves without requires_grad get none") {
  Tensor x = Tensor::from_vector({1, 2}, {2}).set_requires_grad(true);
  Tensor c = Tensor::from_vector({5, 5}, {2});
  Tensor mid = scale(x, 2.0f);
  Tensor out = add(mid, c);
  out.backward(Tensor::full({2}, 1.0f));
  CHECK_FALSE(mid.grad().defined());
  CHECK_FALSE(c.grad().defined());
  CHECK(x.grad().to_vector() == std::vector<float>{2, 2});
  CHECK(out.grad_fn() != nullptr);
  CHECK(x.is_leaf());
}

TEST_CASE("autograd: no-grad scope records nothing and restores the previous mode") {
  Tensor x = Tensor::from_vector({1, 2}, {2}).set_requires_grad(true);
  {
    NoGradGuard guard;
    CHECK_FALSE(grad_enabled());
    Tensor y = scale(x, 2.0f);
    CHECK_FALSE(y.requires_grad());
    CHECK(y.grad_fn() == nullptr);
    {
      NoGradGuard nested;
    }
    CHECK_FALSE(grad_enabled());
  }
  CHECK(grad_enabled());
  CHECK(scale(x, 2.0f).requires_grad());
}

TEST_CASE("autograd: backward errors are clear") {
  Tensor x = Tensor::from_vector({1, 2}, {2});
  CHECK_THROWS_WITH_AS(scale(x, 2.0f).backward(Tensor::full({2}, 1.0f)),
                       doctest::Contains("does not require grad"), std::invalid_argument);
  Tensor y = scale(Tensor::from_vector({1, 2}, {2}).set_requires_grad(true), 2.0f);
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("one-element"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(y.backward(Tensor::full({3}, 1.0f)), doctest::Contains("shape"), std::invalid_argument);
  CHECK_THROWS_AS(Tensor::from_labels({1}).set_requires_grad(true), std::invalid_argument);
}

TEST_CASE("autograd: a deep chain does not overflow the stack") {
  Tensor x = Tensor::from_vector({1}, {1}).set_requires_grad(true);
  Tensor y = x;
  for (int i = 0; i < 100000; ++i) y = scale(y, 1.0f);
  y.backward(Tensor::full({1}, 1.0f));
  CHECK(x.grad().item() == 1.0f);
}

TEST_CASE("autograd: reshape shares storage and detach drops history") {
  Tensor x = Tensor::from_vector({1, 2, 3, 4}, {2, 2});
  Tensor r = reshape(x, {4});
  r.f32()[0] = 9.0f;
  CHECK(x.f32()[0] == 9.0f);
  Tensor y = scale(x.clone().set_requires_grad(true), 2.0f);
  CHECK(y.detach().grad_fn() == nullptr);
  CHECK_FALSE(y.detach().requires_grad());
}

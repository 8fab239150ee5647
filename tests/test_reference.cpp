// The engine against PyTorch: a conv -> batch norm -> ReLU -> max pool ->
// linear -> cross-entropy network, its gradients and two SGD steps, all
// saved by tests/reference/make_fixture.py into a committed fixture.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "engine/ops.h"
#include "engine/safetensors.h"
#include "engine/sgd.h"
#include "tests/reference_fixture.h"

using namespace taper;
using taper::testing::reference_tensor;
using taper::testing::relative_error;

namespace {

Tensor expected(const std::string& name) { return reference_tensor("fixture.safetensors", name); }

void check_close(const std::string& name, const Tensor& got, double floor = 1e-12) {
  CAPTURE(name);
  CHECK(relative_error(got, expected(name), floor) <= 1e-4);
}

double max_abs(const Tensor& t) {
  double m = 0.0;
  for (float v : t.to_vector()) m = std::max(m, std::fabs(double(v)));
  return m;
}

struct Net {
  Tensor conv_w, conv_b, bn_w, bn_b, bn_mean, bn_var, fc_w, fc_b;

  Net() {
    auto param = [](const char* name) { return expected(std::string("init.") + name).clone().set_requires_grad(true); };
    conv_w = param("conv.weight");
    conv_b = param("conv.bias");
    bn_w = param("bn.weight");
    bn_b = param("bn.bias");
    fc_w = param("fc.weight");
    fc_b = param("fc.bias");
    bn_mean = expected("init.bn.running_mean").clone();
    bn_var = expected("init.bn.running_var").clone();
  }
  std::vector<Tensor> params() { return {conv_w, conv_b, bn_w, bn_b, fc_w, fc_b}; }
};

}  // namespace

TEST_CASE("reference: forward activations and loss match PyTorch") {
  Net net;
  Tensor conv = conv2d(expected("x"), net.conv_w, net.conv_b, {1, 1});
  Tensor bn = batch_norm(conv, net.bn_w, net.bn_b, net.bn_mean, net.bn_var, true, 0.1f, 1e-5f);
  Tensor act = relu(bn);
  Tensor pool = max_pool2d(act, 2, 2);
  Tensor logits = linear(flatten(pool), net.fc_w, net.fc_b);
  Tensor loss = cross_entropy(logits, expected("labels"));
  check_close("out.conv", conv);
  check_close("out.bn", bn);
  check_close("out.relu", act);
  check_close("out.pool", pool);
  check_close("out.logits", logits);
  check_close("out.loss", loss);
}

TEST_CASE("reference: gradients of the loss match PyTorch") {
  Net net;
  Tensor x = expected("x").clone().set_requires_grad(true);
  Tensor h = batch_norm(conv2d(x, net.conv_w, net.conv_b, {1, 1}), net.bn_w, net.bn_b, net.bn_mean, net.bn_var, true);
  cross_entropy(linear(flatten(max_pool2d(relu(h), 2, 2)), net.fc_w, net.fc_b), expected("labels")).backward();
  check_close("grad.x", x.grad());
  check_close("grad.conv.weight", net.conv_w.grad());
  // A bias followed by training-mode batch norm has zero gradient: PyTorch
  // stores rounding noise (~1e-7), so measure against the conv gradients' scale.
  check_close("grad.conv.bias", net.conv_b.grad(), max_abs(expected("grad.conv.weight")));
  check_close("grad.bn.weight", net.bn_w.grad());
  check_close("grad.bn.bias", net.bn_b.grad());
  check_close("grad.fc.weight", net.fc_w.grad());
  check_close("grad.fc.bias", net.fc_b.grad());
}

TEST_CASE("reference: two SGD steps with momentum and weight decay match PyTorch") {
  Net net;
  Sgd opt(net.params(), SgdHyper{0.1f, 0.9f, 0.0f, 5e-4f, false});
  Tensor loss;
  for (int step = 0; step < 2; ++step) {
    opt.zero_grad();
    Tensor h = conv2d(expected("x"), net.conv_w, net.conv_b, {1, 1});
    h = batch_norm(h, net.bn_w, net.bn_b, net.bn_mean, net.bn_var, true, 0.1f, 1e-5f);
    loss = cross_entropy(linear(flatten(max_pool2d(relu(h), 2, 2)), net.fc_w, net.fc_b), expected("labels"));
    loss.backward();
    opt.step();
  }
  check_close("step2.loss", loss);
  check_close("step2.conv.weight", net.conv_w);
  check_close("step2.conv.bias", net.conv_b);
  check_close("step2.bn.weight", net.bn_w);
  check_close("step2.bn.bias", net.bn_b);
  check_close("step2.fc.weight", net.fc_w);
  check_close("step2.fc.bias", net.fc_b);
  check_close("step2.bn.running_mean", net.bn_mean);
  check_close("step2.bn.running_var", net.bn_var);
}

TEST_CASE("reference: strided convolution and global average pooling match PyTorch") {
  Tensor x = expected("x2").clone().set_requires_grad(true);
  Tensor w = expected("w2").clone().set_requires_grad(true);
  Tensor out = global_avg_pool(conv2d(x, w, Tensor(), {2, 0}));
  check_close("out2", out);
  out.backward(expected("g2"));
  check_close("grad2.x", x.grad());
  check_close("grad2.w", w.grad());
}

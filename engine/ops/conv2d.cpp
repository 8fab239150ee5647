#include "engine/ops.h"
#include "engine/ops/op_util.h"

namespace taper {

namespace {

struct Conv2dNode : Node {
  Window2d g;
  const char* name() const override { return "conv2d"; }
  std::vector<Tensor> backward(const Tensor& grad_y) override {
    const Tensor &x = inputs[0], &w = inputs[1], &b = inputs[2];
    Backend& be = backend_for(grad_y.device());
    Tensor gx, gw, gb;
    if (wants_grad(x)) {
      gx = Tensor::empty(x.shape(), DType::F32, x.device());
      be.conv2d_backward_data(grad_y, w, gx, g);
    }
    if (wants_grad(w) || wants_grad(b)) {
      gw = Tensor::empty(w.shape(), DType::F32, w.device());
      if (wants_grad(b)) gb = Tensor::empty(b.shape(), DType::F32, b.device());
      be.conv2d_backward_weight(x, grad_y, gw, gb, g);
      if (!wants_grad(w)) gw = Tensor();
    }
    return {gx, gw, gb};
  }
};

Window2d conv_window(const Tensor& x, const Tensor& w, Conv2dOptions o) {
  Window2d g;
  g.n = x.size(0);
  g.c_in = x.size(1);
  g.h_in = x.size(2);
  g.w_in = x.size(3);
  g.c_out = w.size(0);
  g.kh = w.size(2);
  g.kw = w.size(3);
  g.stride_h = g.stride_w = o.stride;
  g.pad_h = g.pad_w = o.padding;
  g.h_out = window_output(g.h_in, g.kh, o.stride, o.padding);
  g.w_out = window_output(g.w_in, g.kw, o.stride, o.padding);
  return g;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Conv2dOptions options) {
  require_float(x, "conv2d", "input", 4);
  require_float(weight, "conv2d", "weight", 4);
  require_same_device(x, weight, "conv2d");
  check_arg(options.stride >= 1 && options.padding >= 0, "conv2d", [&] {
    return "stride must be >= 1 and padding >= 0, got stride " + std::to_string(options.stride) + " padding " +
           std::to_string(options.padding);
  });
  check_arg(x.size(1) == weight.size(1), "conv2d", [&] {
    return "input " + x.shape().str() + " has " + std::to_string(x.size(1)) + " channels, weight " +
           weight.shape().str() + " expects " + std::to_string(weight.size(1));
  });
  if (bias.defined()) {
    require_float(bias, "conv2d", "bias", 1);
    check_arg(bias.size(0) == weight.size(0), "conv2d",
              [&] { return "bias " + bias.shape().str() + " vs weight " + weight.shape().str(); });
  }
  check_arg(x.size(2) + 2 * options.padding >= weight.size(2) && x.size(3) + 2 * options.padding >= weight.size(3),
            "conv2d",
            [&] { return "kernel " + weight.shape().str() + " larger than padded input " + x.shape().str(); });
  const Window2d g = conv_window(x, weight, options);
  Tensor y = Tensor::empty(Shape{g.n, g.c_out, g.h_out, g.w_out}, DType::F32, x.device());
  backend_for(x.device()).conv2d_forward(x, weight, bias, y, g);
  auto node = std::make_shared<Conv2dNode>();
  node->inputs = {x, weight, bias};
  node->g = g;
  return record(y, node);
}

}  // namespace taper

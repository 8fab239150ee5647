#include "engine/ops.h"
#include "engine/ops/op_util.h"

namespace taper {

namespace {

struct MaxPoolNode : Node {
  Tensor argmax;
  Window2d g;
  const char* name() const override { return "max_pool2d"; }
  std::vector<Tensor> backward(const Tensor& grad_y) override {
    Tensor gx = Tensor::empty(inputs[0].shape(), DType::F32, grad_y.device());
    backend_for(grad_y.device()).max_pool2d_backward(grad_y, argmax, gx, g);
    return {gx};
  }
};

struct GlobalAvgPoolNode : Node {
  const char* name() const override { return "global_avg_pool"; }
  std::vector<Tensor> backward(const Tensor& grad_y) override {
    Tensor gx = Tensor::empty(inputs[0].shape(), DType::F32, grad_y.device());
    backend_for(grad_y.device()).global_avg_pool_backward(grad_y, gx);
    return {gx};
  }
};

}  // namespace

Tensor max_pool2d(const Tensor& x, int kernel, int stride, int padding) {
  require_float(x, "max_pool2d", "input", 4);
  check_arg(kernel >= 1 && stride >= 1 && padding >= 0 && 2 * padding <= kernel, "max_pool2d", [&] {
    return "need kernel >= 1, stride >= 1, 0 <= padding <= kernel / 2; got kernel " + std::to_string(kernel) +
           " stride " + std::to_string(stride) + " padding " + std::to_string(padding);
  });
  check_arg(x.size(2) + 2 * padding >= kernel && x.size(3) + 2 * padding >= kernel, "max_pool2d",
            [&] { return "window " + std::to_string(kernel) + " larger than padded input " + x.shape().str(); });
  Window2d g;
  g.n = x.size(0);
  g.c_in = g.c_out = x.size(1);
  g.h_in = x.size(2);
  g.w_in = x.size(3);
  g.kh = g.kw = kernel;
  g.stride_h = g.stride_w = stride;
  g.pad_h = g.pad_w = padding;
  g.h_out = window_output(g.h_in, kernel, stride, padding);
  g.w_out = window_output(g.w_in, kernel, stride, padding);
  const Shape out_shape{g.n, g.c_out, g.h_out, g.w_out};
  Tensor y = Tensor::empty(out_shape, DType::F32, x.device());
  auto node = std::make_shared<MaxPoolNode>();
  node->argmax = Tensor::empty(out_shape, DType::I64, x.device());
  node->g = g;
  backend_for(x.device()).max_pool2d_forward(x, y, node->argmax, g);
  node->inputs = {x};
  return record(y, node);
}

Tensor global_avg_pool(const Tensor& x) {
  require_float(x, "global_avg_pool", "input", 4);
  check_arg(x.size(2) * x.size(3) > 0, "global_avg_pool", [&] { return "empty spatial extent in " + x.shape().str(); });
  Tensor y = Tensor::empty(Shape{x.size(0), x.size(1)}, DType::F32, x.device());
  backend_for(x.device()).global_avg_pool_forward(x, y);
  auto node = std::make_shared<GlobalAvgPoolNode>();
  node->inputs = {x};
  return record(y, node);
}

}  // namespace taper

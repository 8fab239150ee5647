#include "engine/ops.h"
#include "engine/ops/op_util.h"

namespace taper {

namespace {

struct BatchNormNode : Node {
  Tensor save_mean, save_invstd;
  Tensor relu_out;  // batch_norm_relu's output, detached; undefined without ReLU
  const char* name() const override { return relu_out.defined() ? "batch_norm_relu" : "batch_norm"; }
  std::vector<Tensor> backward(const Tensor& grad_y) override {
    const Tensor &x = inputs[0], &gamma = inputs[1], &beta = inputs[2];
    Tensor gx = Tensor::empty(x.shape(), DType::F32, x.device());
    Tensor ggamma = Tensor::empty(gamma.shape(), DType::F32, x.device());
    Tensor gbeta = Tensor::empty(gamma.shape(), DType::F32, x.device());
    backend_for(x.device()).batch_norm_backward(x, grad_y, relu_out, gamma, beta, save_mean, save_invstd, gx, ggamma,
                                                gbeta);
    return {gx, ggamma, gbeta};
  }
};

struct BatchNormEvalNode : Node {
  Tensor running_mean, running_var;  // constants of the map, detached
  Tensor relu_out;                   // as in BatchNormNode
  float eps = 1e-5f;
  const char* name() const override { return relu_out.defined() ? "batch_norm_relu_eval" : "batch_norm_eval"; }
  std::vector<Tensor> backward(const Tensor& grad_y) override {
    const Tensor &x = inputs[0], &gamma = inputs[1], &beta = inputs[2];
    Tensor gx = Tensor::empty(x.shape(), DType::F32, x.device());
    Tensor ggamma = Tensor::empty(gamma.shape(), DType::F32, x.device());
    Tensor gbeta = Tensor::empty(gamma.shape(), DType::F32, x.device());
    backend_for(x.device()).batch_norm_eval_backward(x, grad_y, relu_out, gamma, beta, running_mean, running_var, eps,
                                                     gx, ggamma, gbeta);
    return {gx, ggamma, gbeta};
  }
};

void check_stats(const Tensor& t, int64_t channels, const char* what) {
  require_float(t, "batch_norm", what, 1);
  check_arg(t.size(0) == channels, "batch_norm", [&] {
    return std::string(what) + " " + t.shape().str() + " does not match " + std::to_string(channels) + " channels";
  });
}

// batch_norm, then relu when asked (one pass; the node keeps the output for
// the backward's mask).
Tensor normalize(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean, Tensor& running_var,
                 bool training, float momentum, float eps, bool relu) {
  require_float(x, "batch_norm", "input");
  check_arg(x.ndim() == 2 || x.ndim() == 4, "batch_norm",
            [&] { return "input must be [N, C] or [N, C, H, W], got " + x.shape().str(); });
  const int64_t channels = x.size(1);
  check_stats(gamma, channels, "weight");
  check_stats(beta, channels, "bias");
  check_stats(running_mean, channels, "running_mean");
  check_stats(running_var, channels, "running_var");
  Tensor y = Tensor::empty(x.shape(), DType::F32, x.device());
  Backend& be = backend_for(x.device());
  if (!training) {
    be.batch_norm_eval(x, gamma, beta, y, running_mean, running_var, eps, relu);
    auto node = std::make_shared<BatchNormEvalNode>();
    if (relu) node->relu_out = y.detach();
    node->inputs = {x, gamma, beta};
    node->running_mean = running_mean.detach();
    node->running_var = running_var.detach();
    node->eps = eps;
    return record(y, node);
  }
  check_arg(x.numel() / channels > 1, "batch_norm",
            [&] { return "training needs more than one value per channel, got input " + x.shape().str(); });
  auto node = std::make_shared<BatchNormNode>();
  node->save_mean = Tensor::empty(Shape{channels}, DType::F32, x.device());
  node->save_invstd = Tensor::empty(Shape{channels}, DType::F32, x.device());
  be.batch_norm_train(x, gamma, beta, y, node->save_mean, node->save_invstd, running_mean, running_var, momentum,
                      eps, relu);
  if (relu) node->relu_out = y.detach();
  node->inputs = {x, gamma, beta};
  return record(y, node);
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                  Tensor& running_var, bool training, float momentum, float eps) {
  return normalize(x, gamma, beta, running_mean, running_var, training, momentum, eps, false);
}

Tensor batch_norm_relu(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                       Tensor& running_var, bool training, float momentum, float eps) {
  return normalize(x, gamma, beta, running_mean, running_var, training, momentum, eps, true);
}

}  // namespace taper

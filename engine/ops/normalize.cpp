#include "engine/ops.h"
#include "engine/ops/op_util.h"

namespace taper {

namespace {

struct LayerNormNode : Node {
  Tensor save_mean, save_invstd;
  const char* name() const override { return "layer_norm"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor &x = inputs[0], &gamma = inputs[1], &beta = inputs[2];
    Tensor gx, gg, gb;
    if (wants_grad(x)) gx = Tensor::empty(x.shape(), DType::F32, g.device());
    if (wants_grad(gamma)) gg = Tensor::empty(gamma.shape(), DType::F32, g.device());
    if (wants_grad(beta)) gb = Tensor::empty(beta.shape(), DType::F32, g.device());
    backend_for(g.device()).layer_norm_backward(x, g, gamma, save_mean, save_invstd, gx, gg, gb);
    return {gx, gg, gb};
  }
};

struct L2NormalizeNode : Node {
  Tensor out, norms;  // out detached
  float eps = 0.0f;
  const char* name() const override { return "l2_normalize"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor gx = Tensor::empty(g.shape(), DType::F32, g.device());
    backend_for(g.device()).l2_normalize_backward(out, norms, g, gx, eps);
    return {gx};
  }
};

}  // namespace

Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps) {
  require_float(x, "layer_norm", "input", 2);
  require_float(gamma, "layer_norm", "weight", 1);
  require_float(beta, "layer_norm", "bias", 1);
  require_same_device(x, gamma, "layer_norm");
  require_same_device(x, beta, "layer_norm");
  check_arg(x.size(1) > 0 && gamma.size(0) == x.size(1) && beta.size(0) == x.size(1), "layer_norm", [&] {
    return "weight " + gamma.shape().str() + " and bias " + beta.shape().str() + " must be [D] for input " +
           x.shape().str() + " [N, D], D > 0";
  });
  check_arg(eps > 0.0f, "layer_norm", "eps must be positive");
  Tensor y = Tensor::empty(x.shape(), DType::F32, x.device());
  auto node = std::make_shared<LayerNormNode>();
  node->save_mean = Tensor::empty({x.size(0)}, DType::F32, x.device());
  node->save_invstd = Tensor::empty({x.size(0)}, DType::F32, x.device());
  backend_for(x.device()).layer_norm_forward(x, gamma, beta, y, node->save_mean, node->save_invstd, eps);
  node->inputs = {x, gamma, beta};
  return record(y, node);
}

Tensor l2_normalize(const Tensor& x, float eps) {
  require_float(x, "l2_normalize", "input", 2);
  check_arg(eps > 0.0f, "l2_normalize", "eps must be positive");
  Tensor y = Tensor::empty(x.shape(), DType::F32, x.device());
  auto node = std::make_shared<L2NormalizeNode>();
  node->norms = Tensor::empty({x.size(0)}, DType::F32, x.device());
  backend_for(x.device()).l2_normalize(x, y, node->norms, eps);
  node->inputs = {x};
  node->out = y.detach();
  node->eps = eps;
  return record(y, node);
}

}  // namespace taper

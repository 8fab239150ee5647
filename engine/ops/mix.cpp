// Basis mixing, the paper's equation (1): theta = sum_q alpha[q] * v_q.
// Differentiable in the mixers alpha and in every basis v_q.
#include "engine/ops.h"
#include "engine/ops/op_util.h"

namespace taper {

namespace {
struct MixNode : Node {
  // inputs = {alpha, bases[0], ..., bases[Q-1]}
  const char* name() const override { return "mix"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor& alpha = inputs[0];
    std::vector<Tensor> bases(inputs.begin() + 1, inputs.end());
    std::vector<Tensor> grad_bases(bases.size());
    for (size_t q = 0; q < bases.size(); ++q) {
      if (wants_grad(bases[q])) grad_bases[q] = Tensor::empty(g.shape(), DType::F32, g.device());
    }
    Tensor grad_alpha = Tensor::empty(alpha.shape(), DType::F32, g.device());
    backend_for(g.device()).mix_backward(alpha, bases, g, grad_alpha, grad_bases);
    std::vector<Tensor> grads{wants_grad(alpha) ? grad_alpha : Tensor()};
    grads.insert(grads.end(), grad_bases.begin(), grad_bases.end());
    return grads;
  }
};
}  // namespace

Tensor mix(const Tensor& alpha, const std::vector<Tensor>& bases) {
  require_float(alpha, "mix", "alpha", 1);
  check_arg(!bases.empty(), "mix", "needs at least one basis");
  check_arg(alpha.size(0) == static_cast<int64_t>(bases.size()), "mix",
            [&] { return "alpha " + alpha.shape().str() + " for " + std::to_string(bases.size()) + " bases"; });
  for (size_t q = 0; q < bases.size(); ++q) {
    require_float(bases[q], "mix", "basis");
    require_same_device(alpha, bases[q], "mix");
    check_arg(bases[q].shape() == bases[0].shape(), "mix", [&] {
      return "basis " + std::to_string(q) + " has shape " + bases[q].shape().str() + ", basis 0 has " +
             bases[0].shape().str();
    });
  }
  Tensor out = Tensor::empty(bases[0].shape(), DType::F32, alpha.device());
  backend_for(alpha.device()).mix(alpha, bases, out);
  auto node = std::make_shared<MixNode>();
  node->inputs.push_back(alpha);
  node->inputs.insert(node->inputs.end(), bases.begin(), bases.end());
  return record(out, node);
}

}  // namespace taper

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

// alpha [Q] on the bases' device; every basis float, of basis 0's shape.
void check_mix(const char* op, const Tensor& alpha, const std::vector<Tensor>& bases) {
  require_float(alpha, op, "alpha", 1);
  check_arg(!bases.empty(), op, "needs at least one basis");
  check_arg(alpha.size(0) == static_cast<int64_t>(bases.size()), op,
            [&] { return "alpha " + alpha.shape().str() + " for " + std::to_string(bases.size()) + " bases"; });
  for (size_t q = 0; q < bases.size(); ++q) {
    require_float(bases[q], op, "basis");
    require_same_device(alpha, bases[q], op);
    check_arg(bases[q].shape() == bases[0].shape(), op, [&] {
      return "basis " + std::to_string(q) + " has shape " + bases[q].shape().str() + ", basis 0 has " +
             bases[0].shape().str();
    });
  }
}
}  // namespace

Tensor mix(const Tensor& alpha, const std::vector<Tensor>& bases) {
  check_mix("mix", alpha, bases);
  Tensor out = Tensor::empty(bases[0].shape(), DType::F32, alpha.device());
  backend_for(alpha.device()).mix(alpha, bases, out);
  auto node = std::make_shared<MixNode>();
  node->inputs.push_back(alpha);
  node->inputs.insert(node->inputs.end(), bases.begin(), bases.end());
  return record(out, node);
}

std::vector<Tensor> mix_backward_groups(const std::vector<Tensor>& alphas, const std::vector<Tensor>& bases,
                                        const std::vector<Tensor>& grads, std::vector<Tensor>& grad_bases) {
  const char* op = "mix_backward_groups";
  check_arg(!alphas.empty() && alphas.size() == grads.size(), op, [&] {
    return std::to_string(alphas.size()) + " mixers for " + std::to_string(grads.size()) + " gradients";
  });
  check_arg(grad_bases.size() == bases.size(), op, [&] {
    return std::to_string(grad_bases.size()) + " basis gradients for " + std::to_string(bases.size()) + " bases";
  });
  std::vector<Tensor> grad_alphas;
  for (size_t g = 0; g < alphas.size(); ++g) {
    check_mix(op, alphas[g], bases);
    require_float(grads[g], op, "gradient");
    require_same_device(alphas[g], grads[g], op);
    check_arg(grads[g].shape() == bases[0].shape(), op, [&] {
      return "gradient " + std::to_string(g) + " has shape " + grads[g].shape().str() + ", the bases " +
             bases[0].shape().str();
    });
    grad_alphas.push_back(Tensor::empty(alphas[g].shape(), DType::F32, alphas[g].device()));
  }
  for (size_t q = 0; q < grad_bases.size(); ++q) {
    if (!grad_bases[q].defined()) continue;
    require_float(grad_bases[q], op, "basis gradient");
    require_same_device(bases[q], grad_bases[q], op);
    check_arg(grad_bases[q].shape() == bases[0].shape(), op,
              [&] { return "basis gradient " + std::to_string(q) + " has shape " + grad_bases[q].shape().str(); });
  }
  backend_for(bases[0].device()).mix_backward_groups(alphas, bases, grads, grad_alphas, grad_bases);
  return grad_alphas;
}

}  // namespace taper

#include "engine/sgd.h"

#include "engine/autograd.h"

namespace taper {

Sgd::Sgd(std::vector<Tensor> params, SgdHyper hyper)
    : params_(std::move(params)), buffers_(params_.size()), hyper_(hyper) {
  for (const Tensor& p : params_) {
    check_arg(p.defined() && p.requires_grad(), "Sgd", "every parameter must require grad");
  }
  check_arg(hyper.lr >= 0 && hyper.momentum >= 0 && hyper.weight_decay >= 0, "Sgd",
            "lr, momentum and weight_decay must be non-negative");
  check_arg(!hyper.nesterov || (hyper.momentum > 0 && hyper.dampening == 0), "Sgd",
            "Nesterov momentum needs momentum > 0 and zero dampening");
}

void Sgd::step() {
  NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor grad = params_[i].grad();
    if (!grad.defined()) continue;
    const bool first = !buffers_[i].defined();
    if (hyper_.momentum != 0.0f && first) {
      buffers_[i] = Tensor::empty(params_[i].shape(), DType::F32, params_[i].device());
    }
    backend_for(params_[i].device()).sgd_step(params_[i], grad, buffers_[i], first, hyper_);
  }
}

void Sgd::zero_grad() {
  for (Tensor& p : params_) p.zero_grad();
}

}  // namespace taper

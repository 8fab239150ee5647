// Stochastic gradient descent with momentum and weight decay, with the
// semantics of torch.optim.SGD (decay added to the gradient, momentum
// buffer initialised to the first gradient, optional dampening/Nesterov).
#pragma once

#include <vector>

#include "engine/backend.h"
#include "engine/tensor.h"

namespace taper {

class Sgd {
 public:
  Sgd(std::vector<Tensor> params, SgdHyper hyper);

  void set_lr(float lr) { hyper_.lr = lr; }
  float lr() const { return hyper_.lr; }
  // Updates every parameter that has a gradient; skips the others, as
  // PyTorch does.
  void step();
  void zero_grad();
  // Momentum buffers, in parameter order (undefined before the first step);
  // checkpoints save and restore them.
  std::vector<Tensor>& momentum_buffers() { return buffers_; }

 private:
  std::vector<Tensor> params_;
  std::vector<Tensor> buffers_;
  SgdHyper hyper_;
};

}  // namespace taper

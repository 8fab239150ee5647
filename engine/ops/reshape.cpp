#include "engine/ops.h"
#include "engine/ops/op_util.h"

namespace taper {

namespace {

// A view with new extents over the same storage.
Tensor view(const Tensor& x, const Shape& shape) {
  Tensor v = x.detach();
  v.impl()->shape = shape;
  return v;
}

struct ReshapeNode : Node {
  const char* name() const override { return "reshape"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {view(g, inputs[0].shape())}; }
};

}  // namespace

Tensor reshape(const Tensor& x, const std::vector<int64_t>& requested) {
  check_arg(x.defined(), "reshape", "input is undefined");
  std::vector<int64_t> extents = requested;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < extents.size(); ++i) {
    if (extents[i] == -1) {
      check_arg(infer < 0, "reshape", "more than one -1 in the requested shape");
      infer = static_cast<int64_t>(i);
    } else {
      known *= extents[i];
    }
  }
  if (infer >= 0) {
    check_arg(known > 0 && x.numel() % known == 0, "reshape",
              [&] { return "cannot infer the -1 extent for input " + x.shape().str(); });
    extents[infer] = x.numel() / known;
  }
  const Shape target(extents);
  check_arg(target.numel() == x.numel(), "reshape", [&] {
    return "shape " + target.str() + " does not hold the " + std::to_string(x.numel()) + " elements of " +
           x.shape().str();
  });
  Tensor out = view(x, target);
  auto node = std::make_shared<ReshapeNode>();
  node->inputs = {x};
  return record(out, node);
}

Tensor flatten(const Tensor& x) {
  check_arg(x.defined() && x.ndim() >= 1, "flatten", "input needs a batch dimension");
  return reshape(x, {x.size(0), x.size(0) ? x.numel() / x.size(0) : 0});
}

}  // namespace taper

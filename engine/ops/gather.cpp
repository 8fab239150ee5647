#include "engine/ops.h"
#include "engine/ops/op_util.h"

namespace taper {

namespace {
struct GatherColumnsNode : Node {
  Tensor index;
  const char* name() const override { return "gather_columns"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor gx = Tensor::empty(inputs[0].shape(), DType::F32, g.device());
    backend_for(g.device()).gather_columns_backward(g, index, gx);
    return {gx};
  }
};
}  // namespace

Tensor gather_columns(const Tensor& x, const Tensor& index) {
  require_float(x, "gather_columns", "input", 2);
  require_labels(index, "gather_columns", "index");
  require_same_device(x, index, "gather_columns");
  require_in_range(index, x.size(1), "gather_columns", "index", "position");
  Tensor y = Tensor::empty(Shape{x.size(0), index.size(0)}, DType::F32, x.device());
  backend_for(x.device()).gather_columns(x, index, y);
  auto node = std::make_shared<GatherColumnsNode>();
  node->inputs = {x};
  node->index = index;
  return record(y, node);
}

}  // namespace taper

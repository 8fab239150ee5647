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
struct EmbeddingNode : Node {
  Tensor ids;
  const char* name() const override { return "embedding"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor gt = Tensor::empty(inputs[0].shape(), DType::F32, g.device());
    backend_for(g.device()).embedding_backward(g, ids, gt);
    return {gt};
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

Tensor embedding(const Tensor& table, const Tensor& ids) {
  require_float(table, "embedding", "table", 2);
  require_labels(ids, "embedding", "ids");
  require_same_device(table, ids, "embedding");
  require_in_range(ids, table.size(0), "embedding", "index", "position");
  Tensor y = Tensor::empty(Shape{ids.size(0), table.size(1)}, DType::F32, table.device());
  backend_for(table.device()).embedding(table, ids, y);
  auto node = std::make_shared<EmbeddingNode>();
  node->inputs = {table};
  node->ids = ids;
  return record(y, node);
}

}  // namespace taper

#include "engine/ops.h"
#include "engine/ops/op_util.h"

namespace taper {

namespace {

struct SoftmaxNode : Node {
  Tensor out;  // detached output
  bool log = false;
  const char* name() const override { return log ? "log_softmax" : "softmax"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor gx = Tensor::empty(g.shape(), DType::F32, g.device());
    backend_for(g.device()).softmax_backward(out, g, gx, log);
    return {gx};
  }
};

// Dropped columns have y = 0, so the plain softmax backward over the
// [B*R, C] view gives them zero gradient.
struct MaskedSoftmaxNode : Node {
  Tensor out;  // detached output
  const char* name() const override { return "masked_softmax"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Shape rows{g.size(0) * g.size(1), g.size(2)};
    Tensor gx = Tensor::empty(g.shape(), DType::F32, g.device());
    Tensor gx_rows = reshape(gx, rows.to_vector());
    backend_for(g.device()).softmax_backward(reshape(out, rows.to_vector()), reshape(g, rows.to_vector()), gx_rows,
                                             false);
    return {gx};
  }
};

struct CrossEntropyNode : Node {
  Tensor probs, labels;
  const char* name() const override { return "cross_entropy"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor gx = Tensor::empty(probs.shape(), DType::F32, probs.device());
    backend_for(probs.device()).cross_entropy_backward(probs, labels, g, gx);
    return {gx};
  }
};

Tensor softmax_impl(const Tensor& x, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  require_float(x, op, "input", 2);
  check_arg(x.size(1) > 0, op, [&] { return "no classes in " + x.shape().str(); });
  Tensor y = Tensor::empty(x.shape(), DType::F32, x.device());
  backend_for(x.device()).softmax(x, y, log);
  auto node = std::make_shared<SoftmaxNode>();
  node->inputs = {x};
  node->out = y.detach();
  node->log = log;
  return record(y, node);
}

}  // namespace

Tensor softmax(const Tensor& x) { return softmax_impl(x, false); }
Tensor log_softmax(const Tensor& x) { return softmax_impl(x, true); }

Tensor masked_softmax(const Tensor& x, const Tensor& mask) {
  require_float(x, "masked_softmax", "input", 3);
  require_float(mask, "masked_softmax", "mask", 2);
  require_same_device(x, mask, "masked_softmax");
  check_arg(mask.size(0) == x.size(0) && mask.size(1) == x.size(2), "masked_softmax", [&] {
    return "mask " + mask.shape().str() + " must be [B, C] for input " + x.shape().str() + " [B, R, C]";
  });
  check_arg(!mask.requires_grad(), "masked_softmax", "the mask takes no gradient");
  Tensor y = Tensor::empty(x.shape(), DType::F32, x.device());
  backend_for(x.device()).masked_softmax(x, mask, y);
  auto node = std::make_shared<MaskedSoftmaxNode>();
  node->inputs = {x};
  node->out = y.detach();
  return record(y, node);
}

Tensor cross_entropy(const Tensor& logits, const Tensor& labels) {
  require_float(logits, "cross_entropy", "logits", 2);
  require_labels(labels, "cross_entropy", "labels");
  require_same_device(logits, labels, "cross_entropy");
  check_arg(labels.size(0) == logits.size(0) && logits.size(0) > 0, "cross_entropy", [&] {
    return "logits " + logits.shape().str() + " and labels " + labels.shape().str() + " need one label per row";
  });
  require_in_range(labels, logits.size(1), "cross_entropy", "label", "row");
  auto node = std::make_shared<CrossEntropyNode>();
  node->probs = Tensor::empty(logits.shape(), DType::F32, logits.device());
  node->labels = labels;
  Tensor loss = Tensor::empty(Shape{}, DType::F32, logits.device());
  backend_for(logits.device()).cross_entropy_forward(logits, labels, node->probs, loss);
  node->inputs = {logits};
  return record(loss, node);
}

}  // namespace taper

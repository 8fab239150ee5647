#include "engine/ops.h"
#include "engine/ops/op_util.h"

namespace taper {

namespace {

struct ReluNode : Node {
  Tensor out;  // detached: holding the output itself would form a cycle
  const char* name() const override { return "relu"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor gx = Tensor::empty(g.shape(), DType::F32, g.device());
    backend_for(g.device()).relu_backward(out, g, gx);
    return {gx};
  }
};

// relu(a + b): the mask of the output, handed to both inputs.
struct AddReluNode : Node {
  Tensor out;  // detached, as in ReluNode
  const char* name() const override { return "add_relu"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor gx = Tensor::empty(g.shape(), DType::F32, g.device());
    backend_for(g.device()).relu_backward(out, g, gx);
    return {gx, gx};
  }
};

struct GeluNode : Node {
  const char* name() const override { return "gelu"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor gx = Tensor::empty(g.shape(), DType::F32, g.device());
    backend_for(g.device()).gelu_backward(inputs[0], g, gx);
    return {gx};
  }
};

struct AddNode : Node {
  const char* name() const override { return "add"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {g, g}; }
};

struct ScaleNode : Node {
  float s = 1.0f;
  const char* name() const override { return "scale"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {scale(g, s)}; }
};

}  // namespace

Tensor relu(const Tensor& x) {
  require_float(x, "relu", "input");
  Tensor out = Tensor::empty(x.shape(), DType::F32, x.device());
  backend_for(x.device()).relu(x, out);
  auto node = std::make_shared<ReluNode>();
  node->inputs = {x};
  node->out = out.detach();
  return record(out, node);
}

Tensor gelu(const Tensor& x) {
  require_float(x, "gelu", "input");
  Tensor out = Tensor::empty(x.shape(), DType::F32, x.device());
  backend_for(x.device()).gelu(x, out);
  auto node = std::make_shared<GeluNode>();
  node->inputs = {x};
  return record(out, node);
}

namespace {
// The output of a two-input element-wise op, once the inputs pass its checks.
Tensor output_of_pair(const Tensor& a, const Tensor& b, const char* op) {
  require_float(a, op, "a");
  require_float(b, op, "b");
  check_arg(a.shape() == b.shape(), op,
            [&] { return "shapes " + a.shape().str() + " and " + b.shape().str() + " differ"; });
  require_same_device(a, b, op);
  return Tensor::empty(a.shape(), DType::F32, a.device());
}
}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = output_of_pair(a, b, "add");
  backend_for(a.device()).add(a, b, out);
  auto node = std::make_shared<AddNode>();
  node->inputs = {a, b};
  return record(out, node);
}

Tensor add_relu(const Tensor& a, const Tensor& b) {
  Tensor out = output_of_pair(a, b, "add_relu");
  backend_for(a.device()).add_relu(a, b, out);
  auto node = std::make_shared<AddReluNode>();
  node->inputs = {a, b};
  node->out = out.detach();
  return record(out, node);
}

Tensor scale(const Tensor& x, float s) {
  require_float(x, "scale", "input");
  Tensor out = Tensor::empty(x.shape(), DType::F32, x.device());
  backend_for(x.device()).scale(x, s, out);
  auto node = std::make_shared<ScaleNode>();
  node->inputs = {x};
  node->s = s;
  return record(out, node);
}

void add_inplace(Tensor& dst, const Tensor& src) {
  check_arg(dst.shape() == src.shape(), "add_inplace", [&] { return dst.shape().str() + " += " + src.shape().str(); });
  backend_for(dst.device()).axpy(1.0f, src, dst);
}

void fill_value(Tensor& dst, float value) { backend_for(dst.device()).fill(dst, value); }

void copy_bytes(Tensor& dst, const Tensor& src) { backend_for(dst.device()).copy(dst, src); }

}  // namespace taper

#include "engine/ops.h"
#include "engine/ops/op_util.h"

namespace taper {

namespace {

// C = A B:  dA = dC B^T,  dB = A^T dC.
struct MatmulNode : Node {
  const char* name() const override { return "matmul"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor &a = inputs[0], &b = inputs[1];
    Backend& be = backend_for(g.device());
    Tensor ga, gb;
    if (wants_grad(a)) {
      ga = Tensor::empty(a.shape(), DType::F32, g.device());
      be.gemm(false, true, 1.0f, g, b, 0.0f, ga);
    }
    if (wants_grad(b)) {
      gb = Tensor::empty(b.shape(), DType::F32, g.device());
      be.gemm(true, false, 1.0f, a, g, 0.0f, gb);
    }
    return {ga, gb};
  }
};

// y = x W^T + b:  dx = dy W,  dW = dy^T x,  db = sum_rows dy.
struct LinearNode : Node {
  const char* name() const override { return "linear"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor &x = inputs[0], &w = inputs[1], &b = inputs[2];
    Backend& be = backend_for(g.device());
    Tensor gx, gw, gb;
    if (wants_grad(x)) {
      gx = Tensor::empty(x.shape(), DType::F32, g.device());
      be.gemm(false, false, 1.0f, g, w, 0.0f, gx);
    }
    if (wants_grad(w)) {
      gw = Tensor::empty(w.shape(), DType::F32, g.device());
      be.gemm(true, false, 1.0f, g, x, 0.0f, gw);
    }
    if (wants_grad(b)) {
      gb = Tensor::empty(b.shape(), DType::F32, g.device());
      be.sum_rows(g, gb, 0.0f);
    }
    return {gx, gw, gb};
  }
};

// C = op(A) op(B), per batch index. With op(A) = A: dA = dC op(B)^T; with
// op(A) = A^T: dA = op(B) dC^T. With op(B) = B: dB = op(A)^T dC; with
// op(B) = B^T: dB = dC^T op(A).
struct BatchedMatmulNode : Node {
  bool trans_a = false, trans_b = false;
  const char* name() const override { return "batched_matmul"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor &a = inputs[0], &b = inputs[1];
    Backend& be = backend_for(g.device());
    Tensor ga, gb;
    if (wants_grad(a)) {
      ga = Tensor::empty(a.shape(), DType::F32, g.device());
      if (trans_a) {
        be.gemm_batched(trans_b, true, 1.0f, b, g, 0.0f, ga);
      } else {
        be.gemm_batched(false, !trans_b, 1.0f, g, b, 0.0f, ga);
      }
    }
    if (wants_grad(b)) {
      gb = Tensor::empty(b.shape(), DType::F32, g.device());
      if (trans_b) {
        be.gemm_batched(true, trans_a, 1.0f, g, a, 0.0f, gb);
      } else {
        be.gemm_batched(!trans_a, false, 1.0f, a, g, 0.0f, gb);
      }
    }
    return {ga, gb};
  }
};

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  require_float(a, "matmul", "a", 2);
  require_float(b, "matmul", "b", 2);
  require_same_device(a, b, "matmul");
  check_arg(a.size(1) == b.size(0), "matmul",
            [&] { return "inner extents differ: " + a.shape().str() + " x " + b.shape().str(); });
  Tensor out = Tensor::empty(Shape{a.size(0), b.size(1)}, DType::F32, a.device());
  backend_for(a.device()).gemm(false, false, 1.0f, a, b, 0.0f, out);
  auto node = std::make_shared<MatmulNode>();
  node->inputs = {a, b};
  return record(out, node);
}

Tensor batched_matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  require_float(a, "batched_matmul", "a", 3);
  require_float(b, "batched_matmul", "b", 3);
  require_same_device(a, b, "batched_matmul");
  const int64_t m = trans_a ? a.size(2) : a.size(1), k = trans_a ? a.size(1) : a.size(2);
  const int64_t kb = trans_b ? b.size(2) : b.size(1), n = trans_b ? b.size(1) : b.size(2);
  check_arg(a.size(0) == b.size(0) && k == kb, "batched_matmul", [&] {
    return "cannot multiply " + a.shape().str() + (trans_a ? "^T" : "") + " by " + b.shape().str() +
           (trans_b ? "^T" : "") + " (batch and inner extents must agree)";
  });
  Tensor out = Tensor::empty(Shape{a.size(0), m, n}, DType::F32, a.device());
  backend_for(a.device()).gemm_batched(trans_a, trans_b, 1.0f, a, b, 0.0f, out);
  auto node = std::make_shared<BatchedMatmulNode>();
  node->inputs = {a, b};
  node->trans_a = trans_a;
  node->trans_b = trans_b;
  return record(out, node);
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  require_float(x, "linear", "input", 2);
  require_float(weight, "linear", "weight", 2);
  require_same_device(x, weight, "linear");
  check_arg(x.size(1) == weight.size(1), "linear", [&] {
    return "input " + x.shape().str() + " does not match weight " + weight.shape().str() + " [out, in]";
  });
  if (bias.defined()) {
    require_float(bias, "linear", "bias", 1);
    check_arg(bias.size(0) == weight.size(0), "linear",
              [&] { return "bias " + bias.shape().str() + " does not match weight " + weight.shape().str(); });
  }
  Tensor out = Tensor::empty(Shape{x.size(0), weight.size(0)}, DType::F32, x.device());
  Backend& be = backend_for(x.device());
  be.gemm(false, true, 1.0f, x, weight, 0.0f, out);
  if (bias.defined()) be.add_row_vector(out, bias);
  auto node = std::make_shared<LinearNode>();
  node->inputs = {x, weight, bias};
  return record(out, node);
}

}  // namespace taper

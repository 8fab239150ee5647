#include <algorithm>

#include "engine/ops.h"
#include "engine/ops/op_util.h"

namespace taper {

namespace {

// The gradient goes back through the inverse permutation.
struct PermuteNode : Node {
  std::vector<int> inverse;
  const char* name() const override { return "permute"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {permute(g, inverse)}; }
};

std::string dims_str(const std::vector<int>& dims) {
  std::string s = "(";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + ")";
}

}  // namespace

Tensor permute(const Tensor& x, const std::vector<int>& dims) {
  require_float(x, "permute", "input");
  const int nd = x.ndim();
  std::vector<int> sorted = dims;
  std::sort(sorted.begin(), sorted.end());
  bool is_permutation = static_cast<int>(dims.size()) == nd;
  for (int i = 0; is_permutation && i < nd; ++i) is_permutation = sorted[i] == i;
  check_arg(is_permutation, "permute", [&] {
    return "dims " + dims_str(dims) + " are not a permutation of the " + std::to_string(nd) + " axes of " +
           x.shape().str();
  });
  std::vector<int64_t> extents(nd);
  auto node = std::make_shared<PermuteNode>();
  node->inverse.resize(nd);
  for (int i = 0; i < nd; ++i) {
    extents[i] = x.size(dims[i]);
    node->inverse[dims[i]] = i;
  }
  Tensor out = Tensor::empty(Shape(extents), DType::F32, x.device());
  backend_for(x.device()).permute(x, dims, out);
  node->inputs = {x};
  return record(out, node);
}

}  // namespace taper

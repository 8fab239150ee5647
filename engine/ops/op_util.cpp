#include "engine/ops/op_util.h"

namespace taper {

void require_float(const Tensor& t, const char* op, const char* what, int ndim) {
  check_arg(t.defined(), op, [&] { return std::string(what) + " is undefined"; });
  check_arg(t.dtype() == DType::F32, op,
            [&] { return std::string(what) + " must be F32, got " + dtype_name(t.dtype()); });
  check_arg(ndim < 0 || t.ndim() == ndim, op, [&] {
    return std::string(what) + " must have " + std::to_string(ndim) + " dimensions, got " + t.shape().str();
  });
}

void require_labels(const Tensor& t, const char* op, const char* what) {
  check_arg(t.defined(), op, [&] { return std::string(what) + " is undefined"; });
  check_arg(t.dtype() == DType::I64 && t.ndim() == 1, op, [&] {
    return std::string(what) + " must be a 1-d I64 tensor, got " + dtype_name(t.dtype()) + " " + t.shape().str();
  });
}

void require_same_device(const Tensor& a, const Tensor& b, const char* op) {
  check_arg(a.device() == b.device(), op,
            [&] { return "tensors on " + a.device().str() + " and " + b.device().str(); });
}

void require_in_range(const Tensor& t, int64_t limit, const char* op, const char* what, const char* where) {
  const std::vector<int64_t> values = t.to_labels();
  for (size_t i = 0; i < values.size(); ++i) {
    check_arg(values[i] >= 0 && values[i] < limit, op, [&] {
      return std::string(what) + " " + std::to_string(values[i]) + " at " + where + " " + std::to_string(i) +
             " outside [0, " + std::to_string(limit) + ")";
    });
  }
}

}  // namespace taper

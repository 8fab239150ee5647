// Shared argument checks and node plumbing for the op files.
#pragma once

#include <memory>
#include <string>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/tensor.h"

namespace taper {

// Throws unless t is a defined float tensor with the given rank (-1: any).
void require_float(const Tensor& t, const char* op, const char* what, int ndim = -1);
void require_labels(const Tensor& t, const char* op, const char* what);  // 1-d I64
void require_same_device(const Tensor& a, const Tensor& b, const char* op);
// Throws unless every value of the I64 tensor lies in [0, limit), naming the
// first offender as "<what> V at <where> I"; reads a device tensor back to
// the host, so that no kernel needs an error path.
void require_in_range(const Tensor& t, int64_t limit, const char* op, const char* what, const char* where);

// Records node for out when any of its inputs requires grad; the node's
// inputs must already be set. Returns out for chaining.
template <typename NodeT>
Tensor& record(Tensor& out, std::shared_ptr<NodeT> node) {
  for (const Tensor& in : node->inputs) {
    if (grad_enabled() && in.defined() && in.requires_grad()) {
      attach_node(out, std::move(node));
      break;
    }
  }
  return out;
}

// A gradient slot only when the input wants one.
inline bool wants_grad(const Tensor& t) { return t.defined() && t.requires_grad(); }

}  // namespace taper

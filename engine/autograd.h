// Reverse-mode automatic differentiation over a recorded graph.
//
// Every differentiable op that sees an input with requires_grad (while grad
// mode is on) gives its output a Node: the op's backward function plus the
// inputs it differentiates with respect to. Tensor::backward() walks the
// nodes in reverse topological order; gradients reaching a leaf are added to
// its .grad (they accumulate across calls until zero_grad()), gradients of
// intermediate tensors are not kept. This is PyTorch's contract.
#pragma once

#include <initializer_list>
#include <memory>
#include <vector>

#include "engine/tensor.h"

namespace taper {

struct Node {
  // The tensors this node differentiates with respect to, in the order
  // backward() returns their gradients.
  std::vector<Tensor> inputs;

  // Releases the graph behind this node iteratively (see autograd.cpp).
  virtual ~Node();
  virtual const char* name() const = 0;
  // Given d(loss)/d(output), returns d(loss)/d(input) for each input; an
  // undefined tensor means "no gradient" (e.g. the input does not need one).
  virtual std::vector<Tensor> backward(const Tensor& grad_output) = 0;
};

// Grad mode is per thread, on by default.
bool grad_enabled();

// Turns recording off for its lifetime (evaluation, optimizer updates).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// True when an op over these inputs must record a node.
bool any_requires_grad(std::initializer_list<const Tensor*> inputs);

// Marks out as produced by node (whose inputs are already filled in).
void attach_node(Tensor& out, std::shared_ptr<Node> node);

// Runs the backward pass from root with the given seed gradient.
void run_backward(const Tensor& root, const Tensor& seed);

}  // namespace taper

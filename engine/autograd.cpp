#include "engine/autograd.h"

#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "engine/ops.h"

namespace taper {

namespace {
thread_local bool g_grad_enabled = true;
}

bool grad_enabled() { return g_grad_enabled; }

// Destroying a graph recursively (tensor -> node -> input tensor -> node ...)
// overflows the stack on long chains. Instead, a dying node takes over the
// nodes of inputs that die with it and releases them in a loop.
Node::~Node() {
  std::vector<std::shared_ptr<Node>> orphans;
  auto adopt = [&orphans](std::vector<Tensor>& tensors) {
    for (Tensor& t : tensors) {
      if (t.defined() && t.impl_ptr().use_count() == 1 && t.grad_fn()) orphans.push_back(std::move(t.impl()->grad_fn));
    }
    tensors.clear();
  };
  adopt(inputs);
  while (!orphans.empty()) {
    std::shared_ptr<Node> node = std::move(orphans.back());
    orphans.pop_back();
    if (node.use_count() == 1) adopt(node->inputs);  // node now dies with no inputs left
  }
}

NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }

bool any_requires_grad(std::initializer_list<const Tensor*> inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor* t : inputs) {
    if (t && t->defined() && t->requires_grad()) return true;
  }
  return false;
}

void attach_node(Tensor& out, std::shared_ptr<Node> node) {
  out.impl()->requires_grad = true;
  out.impl()->grad_fn = std::move(node);
}

namespace {

// Tensors reachable from root through grad_fn edges, each after every tensor
// that consumes it (reverse topological order). Iterative so that deep
// networks cannot overflow the stack.
std::vector<TensorImpl*> reverse_topological_order(TensorImpl* root) {
  std::vector<TensorImpl*> post_order;
  std::unordered_set<TensorImpl*> visited;
  std::vector<std::pair<TensorImpl*, size_t>> stack{{root, 0}};
  visited.insert(root);
  while (!stack.empty()) {
    auto& [t, next_input] = stack.back();
    const auto& node = t->grad_fn;
    if (node && next_input < node->inputs.size()) {
      TensorImpl* child = node->inputs[next_input++].impl();
      if (child && child->grad_fn && visited.insert(child).second) stack.push_back({child, 0});
      continue;
    }
    post_order.push_back(t);
    stack.pop_back();
  }
  return {post_order.rbegin(), post_order.rend()};
}

// A leaf's gradient: the first is taken over when nothing else holds its
// memory (most ops return a fresh tensor), else copied: add() hands the same
// tensor to both inputs, and a later add_inplace (or an optimizer) must not
// change the other.
void accumulate(Tensor& slot, Tensor&& g) {
  if (slot.defined()) {
    add_inplace(slot, g);
  } else if (g.sole_owner()) {
    slot = std::move(g);
  } else {
    slot = g.clone();
  }
}

// A pending gradient (of an op's output, consumed by its backward) is taken
// over even when shared, and a later one added in place only when nothing
// else holds the sum: a residual block's add hands one tensor to both of its
// inputs, and by the time the shortcut's second gradient arrives the other
// path has mostly consumed it. (Copying it up front cost 1.6% of a ResNet-8
// step, perf.) Either way the sum is slot + g, the same floats.
void accumulate_pending(Tensor& slot, Tensor&& g) {
  if (!slot.defined()) {
    slot = std::move(g);
  } else if (slot.sole_owner()) {
    add_inplace(slot, g);
  } else {
    slot = add(slot, g);
  }
}

}  // namespace

void run_backward(const Tensor& root, const Tensor& seed) {
  check_arg(root.requires_grad(), "backward", "tensor does not require grad and has no grad_fn");
  check_arg(seed.shape() == root.shape(), "backward",
            [&] { return "seed gradient shape " + seed.shape().str() + " != output shape " + root.shape().str(); });
  NoGradGuard no_grad;  // backward functions are not themselves recorded
  std::unordered_map<TensorImpl*, Tensor> pending;
  pending[root.impl()] = seed;
  if (!root.grad_fn()) {  // backward on a leaf: just accumulate
    Tensor g = root.grad();
    accumulate(g, seed.clone());
    const_cast<Tensor&>(root).set_grad(g);
    return;
  }
  for (TensorImpl* t : reverse_topological_order(root.impl())) {
    auto it = pending.find(t);
    if (it == pending.end()) continue;
    Tensor grad_out = std::move(it->second);
    pending.erase(it);
    Node& node = *t->grad_fn;
    std::vector<Tensor> grads = node.backward(grad_out);
    if (grads.size() != node.inputs.size()) {
      throw std::logic_error(std::string(node.name()) + ": backward returned wrong gradient count");
    }
    for (size_t i = 0; i < grads.size(); ++i) {
      Tensor& input = node.inputs[i];
      if (!grads[i].defined() || !input.defined() || !input.requires_grad()) continue;
      if (input.grad_fn()) {
        accumulate_pending(pending[input.impl()], std::move(grads[i]));
      } else {
        Tensor g = input.grad();
        accumulate(g, std::move(grads[i]));
        input.set_grad(g);
      }
    }
  }
}

}  // namespace taper

#include "taper/basis_mixing.h"

#include "engine/autograd.h"
#include "engine/ops.h"

namespace taper {

MixerLayout make_mixer_layout(const ResNet& net, const std::string& mixers, const std::string& stem,
                              const std::string& classifier) {
  const int stages = net.num_stages();
  MixerLayout layout;
  layout.block_of_stage.assign(stages + 2, 0);
  if (mixers == "single") return layout;
  check_arg(mixers == "block", "mixer layout",
            [&] { return "taper.mixers must be block or single, got '" + mixers + "'"; });
  // Stage s (1..S) gets block s-1, or s when the stem has a block of its own.
  const int offset = stem == "own" ? 1 : 0;
  for (int s = 1; s <= stages; ++s) layout.block_of_stage[s] = s - 1 + offset;
  layout.block_of_stage[0] = 0;
  layout.num_blocks = stages + offset;
  if (classifier == "own") {
    layout.block_of_stage[stages + 1] = layout.num_blocks++;
  } else {
    layout.block_of_stage[stages + 1] = layout.block_of_stage[stages];
  }
  return layout;
}

namespace {
std::vector<Tensor> copies_of(const Bases& bases, bool params, const std::string& name) {
  std::vector<Tensor> list;
  for (int64_t q = 0; q < bases.count(); ++q) list.push_back((params ? bases.params : bases.buffers)[q].at(name));
  return list;
}

// Every tensor of `specs` mixed with its block's mixer.
TensorMap mix_all(const std::vector<TensorSpec>& specs, const MixerLayout& layout, const Bases& bases, bool params,
                  const std::vector<Tensor>& alpha) {
  check_arg(static_cast<int>(alpha.size()) == layout.num_blocks, "basis mixing", [&] {
    return std::to_string(alpha.size()) + " mixers for " + std::to_string(layout.num_blocks) + " blocks";
  });
  TensorMap mixed;
  for (const TensorSpec& spec : specs)
    mixed[spec.name] = mix(alpha[layout.block_of(spec)], copies_of(bases, params, spec.name));
  return mixed;
}

std::vector<Tensor> detached(const std::vector<Tensor>& tensors) {
  std::vector<Tensor> out;
  for (const Tensor& t : tensors) out.push_back(t.detach());
  return out;
}
}  // namespace

TensorMap mix_parameters(const ResNet& net, const MixerLayout& layout, const Bases& bases,
                         const std::vector<Tensor>& alpha) {
  return mix_all(net.parameters(), layout, bases, true, alpha);
}

TensorMap mix_parameter_leaves(const ResNet& net, const MixerLayout& layout, const Bases& bases,
                               const std::vector<Tensor>& alpha) {
  TensorMap mixed;
  {
    NoGradGuard no_grad;
    mixed = mix_all(net.parameters(), layout, bases, true, detached(alpha));
  }
  for (auto& [name, t] : mixed) t.set_requires_grad(true);
  return mixed;
}

std::vector<std::vector<Tensor>> backward_mixing(const ResNet& net, const MixerLayout& layout, const Bases& bases,
                                                 const std::vector<std::vector<Tensor>>& alphas,
                                                 const std::vector<TensorMap>& mixed) {
  NoGradGuard no_grad;
  std::vector<std::vector<Tensor>> fixed, grad_alphas(alphas.size());
  for (size_t g = 0; g < alphas.size(); ++g) {
    fixed.push_back(detached(alphas[g]));
    for (const Tensor& a : alphas[g]) grad_alphas[g].push_back(Tensor::zeros(a.shape(), DType::F32, a.device()));
  }
  for (const TensorSpec& spec : net.parameters()) {
    const int block = layout.block_of(spec);
    std::vector<Tensor> alpha, grads, grad_bases;
    for (size_t g = 0; g < alphas.size(); ++g) {
      const Tensor& theta = mixed[g].at(spec.name);
      const Tensor grad = theta.grad();  // undefined where the loss did not reach the parameter
      alpha.push_back(fixed[g][block]);
      grads.push_back(grad.defined() ? grad : Tensor::zeros(theta.shape(), DType::F32, theta.device()));
    }
    for (int64_t q = 0; q < bases.count(); ++q) {
      Tensor v = bases.params[q].at(spec.name);
      if (v.requires_grad() && !v.grad().defined()) v.set_grad(Tensor::zeros(v.shape(), DType::F32, v.device()));
      grad_bases.push_back(v.requires_grad() ? v.grad() : Tensor());
    }
    const std::vector<Tensor> grad_alpha =
        mix_backward_groups(alpha, copies_of(bases, true, spec.name), grads, grad_bases);
    for (size_t g = 0; g < alphas.size(); ++g) add_inplace(grad_alphas[g][block], grad_alpha[g]);
  }
  return grad_alphas;
}

void backward_into_mixers(const std::vector<std::vector<Tensor>>& alphas,
                          const std::vector<std::vector<Tensor>>& grads) {
  Tensor total;
  for (size_t g = 0; g < alphas.size(); ++g) {
    for (size_t b = 0; b < alphas[g].size(); ++b) {
      Tensor term = matmul(reshape(alphas[g][b], {1, -1}), reshape(grads[g][b], {-1, 1}));
      total = total.defined() ? add(total, term) : term;
    }
  }
  if (total.defined() && total.requires_grad()) total.backward();
}

TensorMap mix_buffers(const ResNet& net, const MixerLayout& layout, const Bases& bases,
                      const std::vector<Tensor>& alpha) {
  NoGradGuard no_grad;
  return mix_all(net.buffers(), layout, bases, false, detached(alpha));
}

void distribute_buffer_updates(const ResNet& net, const MixerLayout& layout, const TensorMap& before,
                               const TensorMap& after, const std::vector<Tensor>& alpha, Bases& bases) {
  NoGradGuard no_grad;
  for (const TensorSpec& spec : net.buffers()) {
    const Tensor delta = add(after.at(spec.name), scale(before.at(spec.name), -1.0f));
    const std::vector<float> a = alpha[layout.block_of(spec)].to_vector();
    for (int64_t q = 0; q < bases.count(); ++q) {
      Tensor& v = bases.buffers[q].at(spec.name);
      add_inplace(v, scale(delta, a[q]));
    }
  }
}

}  // namespace taper

// Equation (1) of the paper, block-wise: the personalized network's every
// parameter is the convex combination of the Q bases' copies of it,
//     theta[p] = sum_q alpha[block(p), q] * V_q[p],
// with one softmax mixer vector per block (§3.3, "block-wise mixers").
//
// Blocks follow the ResNet's stages. The paper mixes ResNet-18's 4 stages;
// it leaves the stem and the classifier open. Choices here (config keys
// taper.stem_mixer and taper.classifier_mixer):
//   stem: "first-stage" (mixed with stage 1's mixer) or "own" (a block of its own)
//   classifier: "last-stage" (with the last stage's mixer) or "own"
// taper.mixers = "single" uses one mixer for everything (Table 6, row 10).
#pragma once

#include <string>
#include <vector>

#include "engine/tensor.h"
#include "nn/resnet.h"

namespace taper {

struct MixerLayout {
  int num_blocks = 1;
  std::vector<int> block_of_stage;  // ResNet stage (0 stem .. S+1 classifier) -> mixer block

  int block_of(const TensorSpec& spec) const { return block_of_stage.at(spec.stage); }
};

// mixers: "block" | "single"; stem: "first-stage" | "own"; classifier: "last-stage" | "own".
MixerLayout make_mixer_layout(const ResNet& net, const std::string& mixers, const std::string& stem,
                              const std::string& classifier);

// Q bases of one architecture: the learnable V_q and, when BatchNorm
// statistics are mixed too, one set of running statistics per basis.
struct Bases {
  std::vector<TensorMap> params;   // Q maps with the network's parameter names
  std::vector<TensorMap> buffers;  // Q maps of running statistics

  int64_t count() const { return static_cast<int64_t>(params.size()); }
};

// theta = sum_q alpha[block, q] V_q for every parameter; alpha[b] is a [Q]
// tensor (differentiable: gradients reach alpha and every basis).
TensorMap mix_parameters(const ResNet& net, const MixerLayout& layout, const Bases& bases,
                         const std::vector<Tensor>& alpha);

// Stage 3's mixing with the backward deferred. mix_parameter_leaves mixes as
// mix_parameters does but records nothing: each mixed parameter is a leaf
// that collects one task group's gradient. After the groups' backward pass,
// backward_mixing takes all of them to the bases in one pass a parameter
// (mix_backward_groups): basis q's .grad receives sum_g alpha_g[block, q] *
// dL/dtheta_g; it returns dL/dalpha_g for each group g and block, for the
// caller to carry on into the mixers' source. (The groups' own mix ops wrote
// Q gradients a group and a parameter for autograd to add: mix_backward and
// axpy took 5.3% of a one-thread stage-3 step, perf; this pass takes 1.3%.)
TensorMap mix_parameter_leaves(const ResNet& net, const MixerLayout& layout, const Bases& bases,
                               const std::vector<Tensor>& alpha);
std::vector<std::vector<Tensor>> backward_mixing(const ResNet& net, const MixerLayout& layout, const Bases& bases,
                                                 const std::vector<std::vector<Tensor>>& alphas,
                                                 const std::vector<TensorMap>& mixed);
// Carries backward_mixing's gradients on from the mixers alphas[g][b] into
// what computed them (the mixer predictor): the backward pass of the sum over
// groups and blocks of <alpha, grad>, grad held constant.
void backward_into_mixers(const std::vector<std::vector<Tensor>>& alphas,
                          const std::vector<std::vector<Tensor>>& grads);

// The personalized running statistics, mixed like weights (no gradient).
TensorMap mix_buffers(const ResNet& net, const MixerLayout& layout, const Bases& bases,
                      const std::vector<Tensor>& alpha);

// After a training forward updated `mixed` (copies made by mix_buffers),
// hands each basis its share of the change: V_q += alpha[block, q] * delta.
void distribute_buffer_updates(const ResNet& net, const MixerLayout& layout, const TensorMap& before,
                               const TensorMap& after, const std::vector<Tensor>& alpha, Bases& bases);

}  // namespace taper

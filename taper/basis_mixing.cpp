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
}  // namespace

TensorMap mix_parameters(const ResNet& net, const MixerLayout& layout, const Bases& bases,
                         const std::vector<Tensor>& alpha) {
  check_arg(static_cast<int>(alpha.size()) == layout.num_blocks, "mix_parameters", [&] {
    return std::to_string(alpha.size()) + " mixers for " + std::to_string(layout.num_blocks) + " blocks";
  });
  TensorMap mixed;
  for (const TensorSpec& spec : net.parameters()) {
    mixed[spec.name] = mix(alpha[layout.block_of(spec)], copies_of(bases, true, spec.name));
  }
  return mixed;
}

TensorMap mix_buffers(const ResNet& net, const MixerLayout& layout, const Bases& bases,
                      const std::vector<Tensor>& alpha) {
  NoGradGuard no_grad;
  TensorMap mixed;
  for (const TensorSpec& spec : net.buffers()) {
    mixed[spec.name] = mix(alpha[layout.block_of(spec)].detach(), copies_of(bases, false, spec.name));
  }
  return mixed;
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

#include "taper/mixer_predictor.h"

#include <cmath>

#include "engine/ops.h"

namespace taper {

namespace {
constexpr int kLayers = 4;

std::string layer(int i, const char* what) { return "layers." + std::to_string(i) + "." + what; }
std::string norm(int i, const char* what) { return "norms." + std::to_string(i) + "." + what; }
}  // namespace

MixerPredictor::MixerPredictor(int64_t description_dim, int64_t hidden, int64_t blocks, int64_t bases)
    : dim_(description_dim), hidden_(hidden), blocks_(blocks), bases_(bases) {
  check_arg(dim_ > 0 && hidden_ > 0 && blocks_ > 0 && bases_ > 0, "MixerPredictor", "all sizes must be positive");
}

TensorMap MixerPredictor::init_parameters(Generator& gen) const {
  TensorMap p;
  for (int i = 0; i < kLayers; ++i) {
    const int64_t in = i == 0 ? dim_ : hidden_, out = i == kLayers - 1 ? blocks_ * bases_ : hidden_;
    const float bound = 1.0f / std::sqrt(static_cast<float>(in));  // nn.Linear's default
    p[layer(i, "weight")] = Tensor::empty({out, in});
    p[layer(i, "bias")] = Tensor::empty({out});
    gen.uniform(p[layer(i, "weight")], -bound, bound);
    gen.uniform(p[layer(i, "bias")], -bound, bound);
    if (i < kLayers - 1) {
      p[norm(i, "weight")] = Tensor::full({hidden_}, 1.0f);
      p[norm(i, "bias")] = Tensor::zeros({hidden_});
    }
  }
  for (auto& [name, t] : p) t.set_requires_grad(true);
  return p;
}

TensorMap MixerPredictor::init_buffers() const {
  TensorMap b;
  for (int i = 0; i < kLayers - 1; ++i) {
    b[norm(i, "running_mean")] = Tensor::zeros({hidden_});
    b[norm(i, "running_var")] = Tensor::full({hidden_}, 1.0f);
  }
  return b;
}

Tensor MixerPredictor::logits(const TensorMap& params, TensorMap& buffers, const Tensor& descriptions,
                              bool training) const {
  check_arg(descriptions.ndim() == 2 && descriptions.size(1) == dim_, "MixerPredictor", [&] {
    return "descriptions must be [G, " + std::to_string(dim_) + "], got " + descriptions.shape().str();
  });
  Tensor h = descriptions;
  for (int i = 0; i < kLayers; ++i) {
    h = linear(h, params.at(layer(i, "weight")), params.at(layer(i, "bias")));
    if (i == kLayers - 1) break;
    h = batch_norm_relu(h, params.at(norm(i, "weight")), params.at(norm(i, "bias")),
                        buffers.at(norm(i, "running_mean")), buffers.at(norm(i, "running_var")), training);
  }
  return h;
}

std::vector<std::vector<Tensor>> MixerPredictor::mixers(const TensorMap& params, TensorMap& buffers,
                                                        const Tensor& descriptions, bool training) const {
  const int64_t groups = descriptions.size(0);
  // Softmax per (task, block) row, then cut the rows apart.
  Tensor alpha = reshape(softmax(reshape(logits(params, buffers, descriptions, training), {groups * blocks_, bases_})),
                         {1, groups * blocks_ * bases_});
  std::vector<std::vector<Tensor>> out(groups);
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t b = 0; b < blocks_; ++b) {
      std::vector<int64_t> columns(bases_);
      for (int64_t q = 0; q < bases_; ++q) columns[q] = (g * blocks_ + b) * bases_ + q;
      out[g].push_back(reshape(gather_columns(alpha, Tensor::from_labels(columns).to(alpha.device())), {bases_}));
    }
  }
  return out;
}

}  // namespace taper

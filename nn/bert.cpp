#include "nn/bert.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "engine/ops.h"

namespace taper {

namespace {

void linear_spec(std::vector<TensorSpec>& specs, const std::string& name, int64_t out, int64_t in, int stage) {
  specs.push_back({name + ".weight", {out, in}, InitKind::LinearWeight, stage, in});
  specs.push_back({name + ".bias", {out}, InitKind::LinearBias, stage, in});
}

void layer_norm_spec(std::vector<TensorSpec>& specs, const std::string& name, int64_t dim, int stage) {
  specs.push_back({name + ".weight", {dim}, InitKind::Ones, stage, 0});
  specs.push_back({name + ".bias", {dim}, InitKind::Zeros, stage, 0});
}

std::string layer_name(int64_t i) { return "encoder.layer." + std::to_string(i); }

Tensor dense(const TensorMap& w, const std::string& name, const Tensor& x) {
  return linear(x, w.at(name + ".weight"), w.at(name + ".bias"));
}

Tensor norm(const TensorMap& w, const std::string& name, const Tensor& x, float eps) {
  return layer_norm(x, w.at(name + ".weight"), w.at(name + ".bias"), eps);
}

// Position ids 0..L-1 for each of B sequences; token type 0 everywhere.
Tensor position_ids(int64_t batch, int64_t length) {
  Tensor ids = Tensor::empty({batch * length}, DType::I64);
  for (int64_t i = 0; i < batch * length; ++i) ids.i64()[i] = i % length;
  return ids;
}

}  // namespace

BertEncoder::BertEncoder(BertConfig c) : config_(c) {
  if (c.vocab < 1 || c.hidden < 1 || c.layers < 1 || c.heads < 1 || c.intermediate < 1 || c.max_positions < 1 ||
      c.type_vocab < 1 || c.hidden % c.heads != 0) {
    throw std::invalid_argument("BertEncoder: sizes must be positive and hidden (" + std::to_string(c.hidden) +
                                ") a multiple of heads (" + std::to_string(c.heads) + ")");
  }
  auto table = [&](const std::string& name, int64_t rows) {
    specs_.push_back({"embeddings." + name + ".weight", {rows, c.hidden}, InitKind::LinearWeight, 0, c.hidden});
  };
  table("word_embeddings", c.vocab);
  table("position_embeddings", c.max_positions);
  table("token_type_embeddings", c.type_vocab);
  layer_norm_spec(specs_, "embeddings.LayerNorm", c.hidden, 0);
  for (int64_t i = 0; i < c.layers; ++i) {
    const std::string p = layer_name(i);
    const int stage = static_cast<int>(i) + 1;
    for (const char* proj : {"query", "key", "value"}) {
      linear_spec(specs_, p + ".attention.self." + proj, c.hidden, c.hidden, stage);
    }
    linear_spec(specs_, p + ".attention.output.dense", c.hidden, c.hidden, stage);
    layer_norm_spec(specs_, p + ".attention.output.LayerNorm", c.hidden, stage);
    linear_spec(specs_, p + ".intermediate.dense", c.intermediate, c.hidden, stage);
    linear_spec(specs_, p + ".output.dense", c.hidden, c.intermediate, stage);
    layer_norm_spec(specs_, p + ".output.LayerNorm", c.hidden, stage);
  }
}

// [B*L, D] -> heads [B*H, L, D/H] and back.
Tensor BertEncoder::attention(const TensorMap& w, const std::string& prefix, const Tensor& h,
                              const Tensor& mask) const {
  const int64_t batch = mask.size(0), length = mask.size(1), heads = config_.heads;
  const int64_t width = config_.hidden / heads;
  auto split_heads = [&](const Tensor& x) {
    return reshape(permute(reshape(x, {batch, length, heads, width}), {0, 2, 1, 3}), {batch * heads, length, width});
  };
  const Tensor q = split_heads(dense(w, prefix + ".query", h));
  const Tensor k = split_heads(dense(w, prefix + ".key", h));
  const Tensor v = split_heads(dense(w, prefix + ".value", h));
  const Tensor scores = scale(batched_matmul(q, k, false, true), 1.0f / std::sqrt(static_cast<float>(width)));
  const Tensor probs = masked_softmax(reshape(scores, {batch, heads * length, length}), mask);
  const Tensor context = batched_matmul(reshape(probs, {batch * heads, length, length}), v);
  return reshape(permute(reshape(context, {batch, heads, length, width}), {0, 2, 1, 3}), {batch * length, heads * width});
}

Tensor BertEncoder::forward(const TensorMap& w, const Tensor& ids, const Tensor& mask) const {
  check_tensors(specs_, w, "BertEncoder", "weight");
  check_arg(mask.defined() && mask.dtype() == DType::F32 && mask.ndim() == 2, "BertEncoder",
            "mask must be F32 [B, L]");
  const int64_t batch = mask.size(0), length = mask.size(1);
  check_arg(ids.defined() && ids.dtype() == DType::I64 && ids.ndim() == 1 && ids.size(0) == batch * length,
            "BertEncoder", [&] {
              return "ids must be I64 [B*L] = [" + std::to_string(batch * length) + "] for mask " + mask.shape().str();
            });
  check_arg(length <= config_.max_positions, "BertEncoder", [&] {
    return "sequences of " + std::to_string(length) + " tokens exceed the " + std::to_string(config_.max_positions) +
           " positions";
  });
  const Tensor types = Tensor::zeros({batch * length}, DType::I64);
  Tensor h = add(add(embedding(w.at("embeddings.word_embeddings.weight"), ids),
                     embedding(w.at("embeddings.position_embeddings.weight"), position_ids(batch, length))),
                 embedding(w.at("embeddings.token_type_embeddings.weight"), types));
  h = norm(w, "embeddings.LayerNorm", h, config_.eps);
  for (int64_t i = 0; i < config_.layers; ++i) {
    const std::string p = layer_name(i);
    const Tensor attended = dense(w, p + ".attention.output.dense", attention(w, p + ".attention.self", h, mask));
    h = norm(w, p + ".attention.output.LayerNorm", add(attended, h), config_.eps);
    const Tensor ff = dense(w, p + ".output.dense", gelu(dense(w, p + ".intermediate.dense", h)));
    h = norm(w, p + ".output.LayerNorm", add(ff, h), config_.eps);
  }
  return h;
}

// The mean is a product with per-sequence weights mask / count: [B, 1, L] x [B, L, D].
Tensor mean_pool_normalized(const Tensor& hidden, const Tensor& mask) {
  const int64_t batch = mask.size(0), length = mask.size(1);
  check_arg(hidden.ndim() == 2 && hidden.size(0) == batch * length, "mean_pool_normalized", [&] {
    return "hidden " + hidden.shape().str() + " does not hold mask " + mask.shape().str() + "'s tokens";
  });
  Tensor weights = Tensor::empty({batch, 1, length});
  for (int64_t b = 0; b < batch; ++b) {
    double count = 0.0;
    for (int64_t t = 0; t < length; ++t) count += mask.f32()[b * length + t];
    // sentence-transformers clamps the count at 1e-9: an empty row pools to 0.
    const double inv = 1.0 / std::max(count, 1e-9);
    for (int64_t t = 0; t < length; ++t) weights.f32()[b * length + t] = static_cast<float>(mask.f32()[b * length + t] * inv);
  }
  const Tensor pooled = batched_matmul(weights, reshape(hidden, {batch, length, hidden.size(1)}));
  return l2_normalize(reshape(pooled, {batch, hidden.size(1)}));
}

}  // namespace taper

// A BERT encoder (Devlin et al. 2019) with Hugging Face's parameter names,
// as sentence-transformers' all-MiniLM-L6-v2 ships it, and the sentence
// embedding on top: mean over each sequence's tokens, L2-normalised
// (sentence-transformers' Pooling(mean) + Normalize).
//
// Functional like the ResNets: the object holds the architecture, forward()
// takes the weights as a name -> tensor map. Post-LayerNorm blocks:
//   h = LN(word[id] + position[t] + type[0])
//   per layer: h = LN(h + Wo attention(h)); h = LN(h + W2 gelu(W1 h))
// Attention: heads of width hidden / heads, scores scaled by 1/sqrt(width),
// padded key positions masked out. Inference only needs no dropout.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "nn/layers.h"

namespace taper {

struct BertConfig {
  int64_t vocab = 30522, hidden = 384, layers = 6, heads = 12, intermediate = 1536;
  int64_t max_positions = 512, type_vocab = 2;
  float eps = 1e-12f;  // LayerNorm's
};

class BertEncoder {
 public:
  // Throws std::invalid_argument when hidden is not a multiple of heads or a
  // size is not positive.
  explicit BertEncoder(BertConfig config);

  const BertConfig& config() const { return config_; }
  // "embeddings.word_embeddings.weight", "encoder.layer.0.attention.self.query.weight", ...
  const std::vector<TensorSpec>& parameters() const { return specs_; }

  // Hidden states [B*L, hidden] of B padded sequences of L tokens: ids I64
  // [B*L] row-major, mask F32 [B, L] (1 for a token, 0 for padding). Throws
  // std::invalid_argument on mismatched shapes, L > max_positions, or missing
  // or mis-shaped weights (naming them).
  Tensor forward(const TensorMap& weights, const Tensor& ids, const Tensor& mask) const;

 private:
  Tensor attention(const TensorMap& w, const std::string& prefix, const Tensor& h, const Tensor& mask) const;

  BertConfig config_;
  std::vector<TensorSpec> specs_;
};

// The mean of hidden [B*L, D] over each sequence's tokens where mask [B, L]
// is 1, L2-normalised: one unit vector [B, D] per sequence.
Tensor mean_pool_normalized(const Tensor& hidden, const Tensor& mask);

}  // namespace taper

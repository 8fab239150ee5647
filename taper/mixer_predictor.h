// The mixer predictor g(d; phi) of §3.3: a 4-layer MLP with batch norm and
// ReLU between layers, from task descriptions [G, D] to block-wise mixer
// logits [G, blocks * Q], softmax-normalised per block (equation 2's sigma).
#pragma once

#include <string>
#include <vector>

#include "engine/rng.h"
#include "nn/resnet.h"

namespace taper {

class MixerPredictor {
 public:
  MixerPredictor(int64_t description_dim, int64_t hidden, int64_t blocks, int64_t bases);

  // Names "layers.{0..3}.weight|bias", "norms.{0..2}.weight|bias" and the
  // norms' running statistics, initialised like nn.Linear / nn.BatchNorm1d.
  TensorMap init_parameters(Generator& gen) const;
  TensorMap init_buffers() const;

  // Mixer logits [G, blocks * Q]. Training needs G >= 2 (batch norm).
  Tensor logits(const TensorMap& params, TensorMap& buffers, const Tensor& descriptions, bool training) const;
  // alpha[g][b]: a [Q] tensor, the softmax over basis logits of block b of task g.
  std::vector<std::vector<Tensor>> mixers(const TensorMap& params, TensorMap& buffers, const Tensor& descriptions,
                                          bool training) const;

  int64_t description_dim() const { return dim_; }
  int64_t blocks() const { return blocks_; }
  int64_t bases() const { return bases_; }

 private:
  int64_t dim_, hidden_, blocks_, bases_;
};

}  // namespace taper

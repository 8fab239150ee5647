// The differentiable operations. Each takes and returns Tensors on one
// device, checks its arguments (std::invalid_argument naming the op and the
// offending shape), records an autograd node when an input requires grad,
// and runs on the backend of its inputs' device. One file per op family in
// engine/ops/.
#pragma once

#include <vector>

#include "engine/tensor.h"

namespace taper {

// ---- linear algebra (ops/linear.cpp) ----
Tensor matmul(const Tensor& a, const Tensor& b);  // [M,K] x [K,N] -> [M,N]
// x [N, in], weight [out, in] (PyTorch's layout), bias [out] or undefined.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);
// One product per leading index: [B,M,K] x [B,K,N] -> [B,M,N]; trans_a /
// trans_b take A[b] / B[b] transposed ([B,K,M] / [B,N,K]), as attention's
// Q K^T does.
Tensor batched_matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);

// ---- convolution (ops/conv2d.cpp) ----
struct Conv2dOptions {
  int stride = 1;
  int padding = 0;
};
// The output extent of a window `kernel` wide moving by `stride` over an
// input `in` wide padded by `padding` on both sides (convolution and pooling).
inline int64_t window_output(int64_t in, int64_t kernel, int64_t stride, int64_t padding) {
  return (in + 2 * padding - kernel) / stride + 1;
}
// x [N, Cin, H, W], weight [Cout, Cin, KH, KW], bias [Cout] or undefined.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Conv2dOptions options = {});

// ---- batch norm (ops/batch_norm.cpp) ----
// x is [N, C] (1-d) or [N, C, H, W] (2-d). In training, normalises with batch
// statistics and updates running_mean / running_var in place:
// running = (1 - momentum) * running + momentum * batch (unbiased variance).
// In evaluation, normalises with the running statistics.
// PyTorch's defaults, named for callers that choose between the two ops below.
constexpr float kBatchNormMomentum = 0.1f, kBatchNormEps = 1e-5f;
Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                  Tensor& running_var, bool training, float momentum = kBatchNormMomentum,
                  float eps = kBatchNormEps);
// relu(batch_norm(...)) in one pass over the maps, equal to the two ops bit
// for bit (a ResNet's conv -> BN -> ReLU).
Tensor batch_norm_relu(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                       Tensor& running_var, bool training, float momentum = kBatchNormMomentum,
                       float eps = kBatchNormEps);

// ---- row normalisations over [N, D] (ops/normalize.cpp) ----
// (x - mean) / sqrt(var + eps) * gamma + beta per row (biased variance),
// gamma and beta [D]: torch.nn.LayerNorm over the last axis.
Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps = 1e-5f);
// x / max(||x||_2, eps) per row: torch.nn.functional.normalize(x, dim=1).
Tensor l2_normalize(const Tensor& x, float eps = 1e-12f);

// ---- element-wise (ops/elementwise.cpp) ----
Tensor relu(const Tensor& x);
Tensor gelu(const Tensor& x);  // exact: x * Phi(x), as BERT's "gelu"

Tensor add(const Tensor& a, const Tensor& b);  // same shapes
Tensor add_relu(const Tensor& a, const Tensor& b);  // relu(add(a, b)) in one pass, bit for bit
Tensor scale(const Tensor& x, float s);

// ---- pooling (ops/pool.cpp) ----
Tensor max_pool2d(const Tensor& x, int kernel, int stride, int padding = 0);
Tensor global_avg_pool(const Tensor& x);  // [N, C, H, W] -> [N, C]

// ---- shapes (ops/reshape.cpp); share storage with the input ----
Tensor reshape(const Tensor& x, const std::vector<int64_t>& extents);  // one extent may be -1
Tensor flatten(const Tensor& x);                      // [N, ...] -> [N, rest]
// ---- axis permutation (ops/permute.cpp); copies into a contiguous tensor ----
// out.shape[i] = x.shape[dims[i]]; dims is a permutation of 0..ndim-1.
Tensor permute(const Tensor& x, const std::vector<int>& dims);

// ---- softmax, losses and gathers (ops/softmax.cpp, ops/gather.cpp) ----
Tensor softmax(const Tensor& x);      // row-wise over [N, C]
Tensor log_softmax(const Tensor& x);  // row-wise over [N, C]
// Softmax over the last axis of x [B, R, C] among the columns where mask
// [B, C] (F32, no gradient) is non-zero; the others get 0: attention over
// padded sequences. A row with no column kept is all zeros.
Tensor masked_softmax(const Tensor& x, const Tensor& mask);
// Mean over the batch of -log softmax(logits)[i, labels[i]]; labels I64 [N].
Tensor cross_entropy(const Tensor& logits, const Tensor& labels);
// Keeps columns index[0..k) of x [N, C]: classifier selection.
Tensor gather_columns(const Tensor& x, const Tensor& index);
// Rows table[ids[i]] of table [V, D] for I64 ids [N] -> [N, D]: an embedding
// lookup. Repeated ids add their gradients.
Tensor embedding(const Tensor& table, const Tensor& ids);

// ---- basis mixing (ops/mix.cpp): equation (1) of the paper ----
// out = sum_q alpha[q] * bases[q], alpha [Q], every basis the same shape.
Tensor mix(const Tensor& alpha, const std::vector<Tensor>& bases);
// mix's backward for G mixes of the same bases, outside autograd (stage 3
// runs it once for its task groups): given grads[g] = dL/d mix(alphas[g],
// bases), adds sum_g alphas[g][q] * grads[g] to grad_bases[q] (an undefined
// entry is skipped) and returns dL/d alphas[g].
std::vector<Tensor> mix_backward_groups(const std::vector<Tensor>& alphas, const std::vector<Tensor>& bases,
                                        const std::vector<Tensor>& grads, std::vector<Tensor>& grad_bases);

// ---- in-place helpers, never recorded ----
void add_inplace(Tensor& dst, const Tensor& src);  // dst += src
void fill_value(Tensor& dst, float value);
void copy_bytes(Tensor& dst, const Tensor& src);

}  // namespace taper

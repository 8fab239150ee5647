// The kernel interface every device implements. Ops (engine/ops/) own the
// autograd logic and shape checks, allocate outputs, and call these kernels
// on the backend of their inputs' device; a backend only computes.
//
// The CPU backend lives in engine/cpu/, the CUDA backend in engine/cuda/,
// each with one file per kernel family under the same name (a reader finds
// the CPU reference of engine/cuda/softmax.cu in engine/cpu/softmax.cpp).
// A new kernel is one pure virtual here plus one function in each backend's
// file of its family; a new family is one new file per backend.
#pragma once

#include <vector>

#include "engine/pad_crop.h"
#include "engine/tensor.h"

namespace taper {

// Geometry of a 2-d convolution or pooling window over NCHW tensors.
struct Window2d {
  int64_t n = 0, c_in = 0, h_in = 0, w_in = 0;  // input
  int64_t c_out = 0, h_out = 0, w_out = 0;      // output (c_out = c_in for pooling)
  int64_t kh = 1, kw = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
};

struct SgdHyper {
  float lr = 0.1f, momentum = 0.0f, dampening = 0.0f, weight_decay = 0.0f;
  bool nesterov = false;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Memory (memory.cpp): the CPU's aligned heap, a device's caching
  // allocator. Storage is the only caller.
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* data, size_t bytes) = 0;
  virtual void zero(Tensor& out) = 0;  // every byte 0, any dtype
  // Raw bytes between host memory and a tensor of this device (out.nbytes()
  // or src.nbytes() of them); synchronous.
  virtual void copy_from_host(Tensor& dst, const void* src) = 0;
  virtual void copy_to_host(void* dst, const Tensor& src) = 0;
  // bytes of src from byte src_offset to dst from byte dst_offset, both on
  // this device (a batch's rows, say).
  virtual void copy_range(Tensor& dst, size_t dst_offset, const Tensor& src, size_t src_offset, size_t bytes) = 0;

  // Element-wise (elementwise.cpp). All tensors have equal numel.
  virtual void fill(Tensor& out, float value) = 0;
  virtual void copy(Tensor& dst, const Tensor& src) = 0;  // raw bytes
  virtual void add(const Tensor& a, const Tensor& b, Tensor& out) = 0;
  // out = relu(a + b): a residual block's end in one pass (the backward is
  // relu_backward's mask, given to both inputs).
  virtual void add_relu(const Tensor& a, const Tensor& b, Tensor& out) = 0;
  virtual void axpy(float alpha, const Tensor& x, Tensor& y) = 0;  // y += alpha * x
  virtual void scale(const Tensor& x, float s, Tensor& out) = 0;
  virtual void relu(const Tensor& x, Tensor& out) = 0;
  // grad_in = grad_out where out > 0, else 0.
  virtual void relu_backward(const Tensor& out, const Tensor& grad_out, Tensor& grad_in) = 0;
  // GELU with the exact erf form x * Phi(x) (BERT's); grad_in from the input x.
  virtual void gelu(const Tensor& x, Tensor& out) = 0;
  virtual void gelu_backward(const Tensor& x, const Tensor& grad_out, Tensor& grad_in) = 0;

  // C = alpha * op(A) op(B) + beta * C for 2-d tensors (gemm.cpp).
  virtual void gemm(bool trans_a, bool trans_b, float alpha, const Tensor& a, const Tensor& b, float beta,
                    Tensor& c) = 0;
  // The same over 3-d tensors, one independent product per leading index b:
  // C[b] = alpha * op(A[b]) op(B[b]) + beta * C[b].
  virtual void gemm_batched(bool trans_a, bool trans_b, float alpha, const Tensor& a, const Tensor& b, float beta,
                            Tensor& c) = 0;
  virtual void add_row_vector(Tensor& x, const Tensor& v) = 0;           // x[i, :] += v
  virtual void sum_rows(const Tensor& x, Tensor& out, float beta) = 0;  // out = beta*out + sum_i x[i, :]

  // Convolution (conv2d.cpp). bias and grad_bias may be undefined.
  virtual void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y,
                              const Window2d& g) = 0;
  virtual void conv2d_backward_data(const Tensor& grad_y, const Tensor& w, Tensor& grad_x, const Window2d& g) = 0;
  virtual void conv2d_backward_weight(const Tensor& x, const Tensor& grad_y, Tensor& grad_w, Tensor& grad_bias,
                                      const Window2d& g) = 0;

  // Batch norm over (N, C, S) with S = H*W (1 for 1-d) (batch_norm.cpp).
  // Training saves the batch mean and 1/sqrt(var+eps) and updates the
  // running statistics with the unbiased variance, as PyTorch does.
  // relu = true writes relu(batch_norm(x)) instead, in the same pass; the
  // backward then masks grad_y by relu_out > 0 (that output; undefined: no
  // ReLU) as it reads it. A backend may instead test the forward's affine
  // value of x, as the CPU does (gamma and beta are passed for that): the
  // same mask, without reading the output. Either way the values equal the
  // unfused ops' bit for bit.
  virtual void batch_norm_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& y,
                                Tensor& save_mean, Tensor& save_invstd, Tensor& running_mean, Tensor& running_var,
                                float momentum, float eps, bool relu) = 0;
  virtual void batch_norm_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& y,
                               const Tensor& running_mean, const Tensor& running_var, float eps, bool relu) = 0;
  virtual void batch_norm_backward(const Tensor& x, const Tensor& grad_y, const Tensor& relu_out,
                                   const Tensor& gamma, const Tensor& beta, const Tensor& save_mean,
                                   const Tensor& save_invstd, Tensor& grad_x, Tensor& grad_gamma,
                                   Tensor& grad_beta) = 0;
  // Evaluation mode is a per-channel affine map; its backward has no terms
  // through the (fixed) statistics.
  virtual void batch_norm_eval_backward(const Tensor& x, const Tensor& grad_y, const Tensor& relu_out,
                                        const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                                        const Tensor& running_var, float eps, Tensor& grad_x, Tensor& grad_gamma,
                                        Tensor& grad_beta) = 0;

  // Row normalisations over [N, D] (normalize.cpp). Layer norm saves each
  // row's mean and 1/sqrt(var + eps) (biased variance); L2 saves each row's
  // norm max(||x||, eps) (torch.nn.functional.normalize).
  virtual void layer_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& y,
                                  Tensor& save_mean, Tensor& save_invstd, float eps) = 0;
  virtual void layer_norm_backward(const Tensor& x, const Tensor& grad_y, const Tensor& gamma,
                                   const Tensor& save_mean, const Tensor& save_invstd, Tensor& grad_x,
                                   Tensor& grad_gamma, Tensor& grad_beta) = 0;
  virtual void l2_normalize(const Tensor& x, Tensor& y, Tensor& norms, float eps) = 0;
  virtual void l2_normalize_backward(const Tensor& y, const Tensor& norms, const Tensor& grad_y, Tensor& grad_x,
                                     float eps) = 0;

  // Pooling (pool.cpp). argmax holds the flat input index within each plane.
  virtual void max_pool2d_forward(const Tensor& x, Tensor& y, Tensor& argmax, const Window2d& g) = 0;
  virtual void max_pool2d_backward(const Tensor& grad_y, const Tensor& argmax, Tensor& grad_x,
                                   const Window2d& g) = 0;
  virtual void global_avg_pool_forward(const Tensor& x, Tensor& y) = 0;
  virtual void global_avg_pool_backward(const Tensor& grad_y, Tensor& grad_x) = 0;

  // Row-wise softmax and cross-entropy over [N, C] (softmax.cpp). Labels
  // are checked by the op before the kernel runs.
  virtual void softmax(const Tensor& x, Tensor& y, bool log) = 0;
  virtual void softmax_backward(const Tensor& y, const Tensor& grad_y, Tensor& grad_x, bool log) = 0;
  // Softmax over the last axis of x [B, R, C], keeping only the columns c with
  // mask[b, c] != 0 (mask F32 [B, C]); dropped columns get probability 0, a
  // row with none kept is all zeros. Its backward is softmax_backward on the
  // [B*R, C] view.
  virtual void masked_softmax(const Tensor& x, const Tensor& mask, Tensor& y) = 0;
  // loss = mean_i -log p[i, label_i]; also returns the probabilities.
  virtual void cross_entropy_forward(const Tensor& logits, const Tensor& labels, Tensor& probs, Tensor& loss) = 0;
  virtual void cross_entropy_backward(const Tensor& probs, const Tensor& labels, const Tensor& grad_loss,
                                      Tensor& grad_logits) = 0;

  // Column gather over [N, C] with I64 indices, checked by the op (gather.cpp).
  virtual void gather_columns(const Tensor& x, const Tensor& index, Tensor& y) = 0;
  virtual void gather_columns_backward(const Tensor& grad_y, const Tensor& index, Tensor& grad_x) = 0;

  // Row gather: y[i, :] = table[ids[i], :] for I64 ids [N] (gather.cpp); the
  // backward zero-fills grad_table and adds each row of grad_y back.
  virtual void embedding(const Tensor& table, const Tensor& ids, Tensor& y) = 0;
  virtual void embedding_backward(const Tensor& grad_y, const Tensor& ids, Tensor& grad_table) = 0;

  // Axis permutation into a new contiguous tensor (permute.cpp):
  // out.shape[i] = x.shape[dims[i]].
  virtual void permute(const Tensor& x, const std::vector<int>& dims, Tensor& out) = 0;

  // Basis mixing out = sum_q alpha[q] * bases[q] (mix.cpp).
  virtual void mix(const Tensor& alpha, const std::vector<Tensor>& bases, Tensor& out) = 0;
  // grad_alpha[q] = <grad_out, bases[q]>; grad_bases[q] = alpha[q] * grad_out
  // (entries of grad_bases left undefined are skipped).
  virtual void mix_backward(const Tensor& alpha, const std::vector<Tensor>& bases, const Tensor& grad_out,
                            Tensor& grad_alpha, std::vector<Tensor>& grad_bases) = 0;
  // The backward of G mixes of the same bases (stage 3's task groups) in one
  // pass: grad_alphas[g][q] = <grads[g], bases[q]>; grad_bases[q] +=
  // sum over g, in order, of alphas[g][q] * grads[g].
  virtual void mix_backward_groups(const std::vector<Tensor>& alphas, const std::vector<Tensor>& bases,
                                   const std::vector<Tensor>& grads, std::vector<Tensor>& grad_alphas,
                                   std::vector<Tensor>& grad_bases) = 0;

  // CIFAR-style batches from resident image bytes (augment.cpp): row b of
  // out [B, 3, H, W] is image crops[b, 0] of images [N, H, W, 3] (U8, HWC),
  // cropped at (crops[b, 1], crops[b, 2]), mirrored when crops[b, 3] != 0,
  // and normalised (engine/pad_crop.h). crops is I64 [B, 4].
  virtual void pad_crop_normalize(const Tensor& images, const Tensor& crops, Tensor& out,
                                  const PadCropNormalize& p) = 0;

  // One SGD update in place (sgd.cpp); momentum_buf is used when momentum > 0.
  virtual void sgd_step(Tensor& param, const Tensor& grad, Tensor& momentum_buf, bool first_step,
                        const SgdHyper& h) = 0;
};

// The backend that computes on tensors of this device; throws
// std::runtime_error starting "no CUDA device" when the device's backend is
// not in this build or the machine has no such device.
Backend& backend_for(Device device);

}  // namespace taper

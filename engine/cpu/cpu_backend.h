// The CPU backend: OpenBLAS for GEMM, im2col + GEMM for convolution, OpenMP
// loops over the two cores for the rest. Member functions are defined in the
// file of their kernel family (elementwise.cpp, gemm.cpp, conv2d.cpp, ...).
#pragma once

#include "engine/backend.h"

namespace taper {

// Work below this many elements stays on one thread: waking a second costs
// more than it saves.
constexpr int64_t kParallelGrain = 1 << 15;

// Convolution weight gradients (conv2d.cpp, conv2d_direct.cpp) sum the batch
// in at most this many fixed parts, then the parts in order, so that no
// result depends on the thread count.
constexpr int64_t kWeightGradientParts = 8;

constexpr int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

class CpuBackend final : public Backend {
 public:
  void* allocate(size_t bytes) override;
  void deallocate(void* data, size_t bytes) override;
  void zero(Tensor& out) override;
  void copy_from_host(Tensor& dst, const void* src) override;
  void copy_to_host(void* dst, const Tensor& src) override;
  void copy_range(Tensor& dst, size_t dst_offset, const Tensor& src, size_t src_offset, size_t bytes) override;

  void fill(Tensor& out, float value) override;
  void copy(Tensor& dst, const Tensor& src) override;
  void add(const Tensor& a, const Tensor& b, Tensor& out) override;
  void add_relu(const Tensor& a, const Tensor& b, Tensor& out) override;
  void axpy(float alpha, const Tensor& x, Tensor& y) override;
  void scale(const Tensor& x, float s, Tensor& out) override;
  void relu(const Tensor& x, Tensor& out) override;
  void relu_backward(const Tensor& out, const Tensor& grad_out, Tensor& grad_in) override;
  void gelu(const Tensor& x, Tensor& out) override;
  void gelu_backward(const Tensor& x, const Tensor& grad_out, Tensor& grad_in) override;

  void gemm(bool trans_a, bool trans_b, float alpha, const Tensor& a, const Tensor& b, float beta,
            Tensor& c) override;
  void gemm_batched(bool trans_a, bool trans_b, float alpha, const Tensor& a, const Tensor& b, float beta,
                    Tensor& c) override;
  void add_row_vector(Tensor& x, const Tensor& v) override;
  void sum_rows(const Tensor& x, Tensor& out, float beta) override;

  void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y, const Window2d& g) override;
  void conv2d_backward_data(const Tensor& grad_y, const Tensor& w, Tensor& grad_x, const Window2d& g) override;
  void conv2d_backward_weight(const Tensor& x, const Tensor& grad_y, Tensor& grad_w, Tensor& grad_bias,
                              const Window2d& g) override;

  void batch_norm_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& y, Tensor& save_mean,
                        Tensor& save_invstd, Tensor& running_mean, Tensor& running_var, float momentum, float eps,
                        bool relu) override;
  void batch_norm_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& y,
                       const Tensor& running_mean, const Tensor& running_var, float eps, bool relu) override;
  void batch_norm_backward(const Tensor& x, const Tensor& grad_y, const Tensor& relu_out, const Tensor& gamma,
                           const Tensor& beta, const Tensor& save_mean, const Tensor& save_invstd, Tensor& grad_x,
                           Tensor& grad_gamma, Tensor& grad_beta) override;
  void batch_norm_eval_backward(const Tensor& x, const Tensor& grad_y, const Tensor& relu_out, const Tensor& gamma,
                                const Tensor& beta, const Tensor& running_mean, const Tensor& running_var, float eps,
                                Tensor& grad_x, Tensor& grad_gamma, Tensor& grad_beta) override;

  void layer_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& y, Tensor& save_mean,
                          Tensor& save_invstd, float eps) override;
  void layer_norm_backward(const Tensor& x, const Tensor& grad_y, const Tensor& gamma, const Tensor& save_mean,
                           const Tensor& save_invstd, Tensor& grad_x, Tensor& grad_gamma, Tensor& grad_beta) override;
  void l2_normalize(const Tensor& x, Tensor& y, Tensor& norms, float eps) override;
  void l2_normalize_backward(const Tensor& y, const Tensor& norms, const Tensor& grad_y, Tensor& grad_x,
                             float eps) override;

  void max_pool2d_forward(const Tensor& x, Tensor& y, Tensor& argmax, const Window2d& g) override;
  void max_pool2d_backward(const Tensor& grad_y, const Tensor& argmax, Tensor& grad_x, const Window2d& g) override;
  void global_avg_pool_forward(const Tensor& x, Tensor& y) override;
  void global_avg_pool_backward(const Tensor& grad_y, Tensor& grad_x) override;

  void softmax(const Tensor& x, Tensor& y, bool log) override;
  void softmax_backward(const Tensor& y, const Tensor& grad_y, Tensor& grad_x, bool log) override;
  void masked_softmax(const Tensor& x, const Tensor& mask, Tensor& y) override;
  void cross_entropy_forward(const Tensor& logits, const Tensor& labels, Tensor& probs, Tensor& loss) override;
  void cross_entropy_backward(const Tensor& probs, const Tensor& labels, const Tensor& grad_loss,
                              Tensor& grad_logits) override;

  void gather_columns(const Tensor& x, const Tensor& index, Tensor& y) override;
  void gather_columns_backward(const Tensor& grad_y, const Tensor& index, Tensor& grad_x) override;

  void embedding(const Tensor& table, const Tensor& ids, Tensor& y) override;
  void embedding_backward(const Tensor& grad_y, const Tensor& ids, Tensor& grad_table) override;

  void permute(const Tensor& x, const std::vector<int>& dims, Tensor& out) override;

  void mix(const Tensor& alpha, const std::vector<Tensor>& bases, Tensor& out) override;
  void mix_backward(const Tensor& alpha, const std::vector<Tensor>& bases, const Tensor& grad_out,
                    Tensor& grad_alpha, std::vector<Tensor>& grad_bases) override;
  void mix_backward_groups(const std::vector<Tensor>& alphas, const std::vector<Tensor>& bases,
                           const std::vector<Tensor>& grads, std::vector<Tensor>& grad_alphas,
                           std::vector<Tensor>& grad_bases) override;

  void pad_crop_normalize(const Tensor& images, const Tensor& crops, Tensor& out, const PadCropNormalize& p) override;

  void sgd_step(Tensor& param, const Tensor& grad, Tensor& momentum_buf, bool first_step,
                const SgdHyper& h) override;
};

}  // namespace taper

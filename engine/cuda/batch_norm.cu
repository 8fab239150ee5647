// Batch norm over (N, C, S) through cuDNN's spatial batch norm (a [N, C]
// input is viewed as [N, C, 1, 1]); the evaluation-mode backward, which
// cuDNN lacks, is our own kernel. The CPU reference is engine/cpu/batch_norm.cpp.
//
// cuDNN matches the op's contract: the saved statistics are the batch mean
// and 1/sqrt(var + eps), and the running variance is updated with the
// unbiased batch variance, as PyTorch (which calls the same functions) does.
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/reduce.cuh"

namespace taper {

using cuda::f32_of;

namespace {

struct Layout {
  int64_t n, c, s;
};
Layout layout(const Tensor& x) { return {x.size(0), x.size(1), x.ndim() == 4 ? x.size(2) * x.size(3) : 1}; }

// The input's descriptor and the derived [1, C, 1, 1] one of the statistics.
struct BatchNormDescriptors {
  cudnnTensorDescriptor_t x = nullptr, stats = nullptr;
  explicit BatchNormDescriptors(const Tensor& t) {
    const int n = static_cast<int>(t.size(0)), c = static_cast<int>(t.size(1));
    const int h = t.ndim() == 4 ? static_cast<int>(t.size(2)) : 1, w = t.ndim() == 4 ? static_cast<int>(t.size(3)) : 1;
    TAPER_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x));
    TAPER_CUDNN_CHECK(cudnnCreateTensorDescriptor(&stats));
    TAPER_CUDNN_CHECK(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, h, w));
    TAPER_CUDNN_CHECK(cudnnDeriveBNTensorDescriptor(stats, x, CUDNN_BATCHNORM_SPATIAL));
  }
  ~BatchNormDescriptors() {
    cudnnDestroyTensorDescriptor(stats);
    cudnnDestroyTensorDescriptor(x);
  }
  BatchNormDescriptors(const BatchNormDescriptors&) = delete;
  BatchNormDescriptors& operator=(const BatchNormDescriptors&) = delete;
};

// cuDNN rejects a smaller epsilon.
double cudnn_eps(float eps) { return eps < CUDNN_BN_MIN_EPSILON ? CUDNN_BN_MIN_EPSILON : eps; }

// One block per channel: dbeta = sum dy, dgamma = sum dy * xhat, dx = gamma * invstd * dy.
__global__ void eval_backward_kernel(const float* x, const float* gy, const float* gamma, const float* mean,
                                     const float* var, float eps, float* gx, float* ggamma, float* gbeta, Layout l) {
  const int64_t ch = blockIdx.x;
  const float invstd = rsqrtf(var[ch] + eps), m = mean[ch], a = gamma[ch] * invstd;
  double dbeta = 0.0, dgamma = 0.0;
  for (int64_t e = threadIdx.x; e < l.n * l.s; e += blockDim.x) {
    const int64_t i = ((e / l.s) * l.c + ch) * l.s + e % l.s;
    dbeta += gy[i];
    dgamma += gy[i] * (x[i] - m) * invstd;
    gx[i] = a * gy[i];
  }
  dbeta = cuda::block_sum(dbeta);
  dgamma = cuda::block_sum(dgamma);
  if (threadIdx.x == 0) {
    gbeta[ch] = static_cast<float>(dbeta);
    ggamma[ch] = static_cast<float>(dgamma);
  }
}

const float kOne = 1.0f, kZero = 0.0f;

}  // namespace

Tensor CudaBackend::masked_by_relu(const Tensor& grad, const Tensor& relu_out) {
  if (!relu_out.defined()) return grad;
  Tensor masked = Tensor::empty(grad.shape(), DType::F32, grad.device());
  relu_backward(relu_out, grad, masked);
  return masked;
}

void CudaBackend::batch_norm_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& y,
                                   Tensor& save_mean, Tensor& save_invstd, Tensor& running_mean,
                                   Tensor& running_var, float momentum, float eps, bool relu) {
  const BatchNormDescriptors d(x);
  TAPER_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
      cudnn_, CUDNN_BATCHNORM_SPATIAL, &kOne, &kZero, d.x, f32_of(x), d.x, f32_of(y), d.stats, f32_of(gamma),
      f32_of(beta), momentum, f32_of(running_mean), f32_of(running_var), cudnn_eps(eps), f32_of(save_mean),
      f32_of(save_invstd)));
  if (relu) this->relu(y, y);
}

void CudaBackend::batch_norm_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& y,
                                  const Tensor& running_mean, const Tensor& running_var, float eps, bool relu) {
  const BatchNormDescriptors d(x);
  TAPER_CUDNN_CHECK(cudnnBatchNormalizationForwardInference(
      cudnn_, CUDNN_BATCHNORM_SPATIAL, &kOne, &kZero, d.x, f32_of(x), d.x, f32_of(y), d.stats, f32_of(gamma),
      f32_of(beta), f32_of(running_mean), f32_of(running_var), cudnn_eps(eps)));
  if (relu) this->relu(y, y);
}

void CudaBackend::batch_norm_backward(const Tensor& x, const Tensor& grad_y_in, const Tensor& relu_out,
                                      const Tensor& gamma, const Tensor& /*beta: masks by relu_out*/,
                                      const Tensor& save_mean, const Tensor& save_invstd,
                                      Tensor& grad_x, Tensor& grad_gamma, Tensor& grad_beta) {
  const Tensor grad_y = masked_by_relu(grad_y_in, relu_out);
  const BatchNormDescriptors d(x);
  // With the saved statistics given, cuDNN does not use epsilon (the saved
  // 1/sqrt(var + eps) holds it); it only checks it against its minimum.
  TAPER_CUDNN_CHECK(cudnnBatchNormalizationBackward(
      cudnn_, CUDNN_BATCHNORM_SPATIAL, &kOne, &kZero, &kOne, &kZero, d.x, f32_of(x), d.x, f32_of(grad_y), d.x,
      f32_of(grad_x), d.stats, f32_of(gamma), f32_of(grad_gamma), f32_of(grad_beta), CUDNN_BN_MIN_EPSILON,
      f32_of(save_mean), f32_of(save_invstd)));
}

void CudaBackend::batch_norm_eval_backward(const Tensor& x, const Tensor& grad_y_in, const Tensor& relu_out,
                                           const Tensor& gamma, const Tensor& /*beta: masks by relu_out*/,
                                           const Tensor& running_mean,
                                           const Tensor& running_var, float eps, Tensor& grad_x, Tensor& grad_gamma,
                                           Tensor& grad_beta) {
  const Tensor grad_y = masked_by_relu(grad_y_in, relu_out);
  const Layout l = layout(x);
  if (l.c == 0) return;
  eval_backward_kernel<<<static_cast<unsigned>(l.c), cuda::kThreads>>>(
      f32_of(x), f32_of(grad_y), f32_of(gamma), f32_of(running_mean), f32_of(running_var), eps, f32_of(grad_x),
      f32_of(grad_gamma), f32_of(grad_beta), l);
  TAPER_CUDA_LAUNCHED();
}

}  // namespace taper

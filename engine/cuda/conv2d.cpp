// Convolution through cuDNN: forward, backward-data and backward-filter,
// each with the fastest algorithm cuDNN measures for the shape (chosen on the
// shape's first call and cached), a workspace from the caching allocator,
// and no TF32 unless allow_tf32(). The CPU reference is engine/cpu/conv2d.cpp
// (im2col + GEMM; both compute PyTorch's cross-correlation).
#include <map>
#include <mutex>
#include <stdexcept>
#include <tuple>

#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cuda_check.h"

namespace taper {

using cuda::f32_of;

namespace {

enum class ConvPass { Forward, BackwardData, BackwardFilter };

// Workspace the algorithm search may use; algorithms that need more are
// passed over (on an H200 this is a sliver of its memory).
constexpr size_t kMaxWorkspace = size_t{1} << 30;

using ConvKey = std::tuple<int, bool, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                           int64_t, int64_t>;
ConvKey key_of(ConvPass pass, bool tf32, const Window2d& g) {
  return {static_cast<int>(pass), tf32, g.n, g.c_in, g.h_in, g.w_in, g.c_out, g.kh, g.kw,
          g.stride_h, g.stride_w, g.pad_h, g.pad_w};
}

struct ConvChoice {
  int algorithm = 0;
  cudnnMathType_t math = CUDNN_FMA_MATH;
  size_t workspace = 0;
};

struct ConvDescriptors {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr, bias = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;

  explicit ConvDescriptors(const Window2d& g) {
    auto i = [](int64_t v) { return static_cast<int>(v); };
    TAPER_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x));
    TAPER_CUDNN_CHECK(cudnnCreateTensorDescriptor(&y));
    TAPER_CUDNN_CHECK(cudnnCreateTensorDescriptor(&bias));
    TAPER_CUDNN_CHECK(cudnnCreateFilterDescriptor(&w));
    TAPER_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv));
    TAPER_CUDNN_CHECK(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, i(g.n), i(g.c_in), i(g.h_in),
                                                 i(g.w_in)));
    TAPER_CUDNN_CHECK(cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, i(g.n), i(g.c_out),
                                                 i(g.h_out), i(g.w_out)));
    TAPER_CUDNN_CHECK(cudnnSetTensor4dDescriptor(bias, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, i(g.c_out), 1, 1));
    TAPER_CUDNN_CHECK(
        cudnnSetFilter4dDescriptor(w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, i(g.c_out), i(g.c_in), i(g.kh), i(g.kw)));
    TAPER_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv, i(g.pad_h), i(g.pad_w), i(g.stride_h), i(g.stride_w), 1, 1,
                                                      CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    TAPER_CUDNN_CHECK(cudnnSetConvolutionMathType(conv, allow_tf32() ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
    int n = 0, c = 0, h = 0, wd = 0;
    TAPER_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(conv, x, w, &n, &c, &h, &wd));
    if (n != g.n || c != g.c_out || h != g.h_out || wd != g.w_out) {
      throw std::logic_error("conv2d: cuDNN's output shape differs from the op's window");
    }
  }
  ~ConvDescriptors() {
    cudnnDestroyConvolutionDescriptor(conv);
    cudnnDestroyFilterDescriptor(w);
    cudnnDestroyTensorDescriptor(bias);
    cudnnDestroyTensorDescriptor(y);
    cudnnDestroyTensorDescriptor(x);
  }
  ConvDescriptors(const ConvDescriptors&) = delete;
  ConvDescriptors& operator=(const ConvDescriptors&) = delete;
};

bool is_tensor_op(cudnnMathType_t m) { return m == CUDNN_TENSOR_OP_MATH || m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION; }

// The first (fastest) measured result that ran, fits the workspace and
// respects the TF32 setting.
template <typename Perf>
ConvChoice pick(const Perf* results, int count, const char* pass) {
  for (int i = 0; i < count; ++i) {
    const Perf& r = results[i];
    if (r.status != CUDNN_STATUS_SUCCESS || r.memory > kMaxWorkspace) continue;
    if (!allow_tf32() && is_tensor_op(r.mathType)) continue;
    return {static_cast<int>(r.algo), r.mathType, r.memory};
  }
  throw std::runtime_error(std::string("conv2d: cuDNN found no usable ") + pass + " algorithm for this shape");
}

}  // namespace

struct ConvAlgorithms {
  std::mutex mutex;
  std::map<ConvKey, ConvChoice> chosen;
};

namespace {

// The cached choice for (pass, shape), or the result of `search` stored.
template <typename Search>
ConvChoice choose(ConvAlgorithms& cache, ConvPass pass, const Window2d& g, Search search) {
  const ConvKey key = key_of(pass, allow_tf32(), g);
  {
    std::lock_guard<std::mutex> lock(cache.mutex);
    auto it = cache.chosen.find(key);
    if (it != cache.chosen.end()) return it->second;
  }
  const ConvChoice c = search();
  std::lock_guard<std::mutex> lock(cache.mutex);
  cache.chosen[key] = c;
  return c;
}

const float kOne = 1.0f, kZero = 0.0f;

}  // namespace

// The searches run the candidate algorithms on the call's own buffers (the
// outputs are overwritten by the real call right after).

void CudaBackend::conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y, const Window2d& g) {
  if (!conv_algorithms_) conv_algorithms_ = std::make_shared<ConvAlgorithms>();
  const ConvDescriptors d(g);
  const ConvChoice c = choose(*conv_algorithms_, ConvPass::Forward, g, [&] {
    cudnnConvolutionFwdAlgoPerf_t results[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int count = 0;
    Scratch ws(allocator_, kMaxWorkspace);
    TAPER_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(cudnn_, d.x, f32_of(x), d.w, f32_of(w), d.conv, d.y,
                                                             f32_of(y), CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count,
                                                             results, ws.get(), kMaxWorkspace));
    return pick(results, count, "forward");
  });
  TAPER_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, c.math));
  Scratch ws(allocator_, c.workspace);
  TAPER_CUDNN_CHECK(cudnnConvolutionForward(cudnn_, &kOne, d.x, f32_of(x), d.w, f32_of(w), d.conv,
                                            static_cast<cudnnConvolutionFwdAlgo_t>(c.algorithm), ws.get(),
                                            c.workspace, &kZero, d.y, f32_of(y)));
  if (bias.defined()) TAPER_CUDNN_CHECK(cudnnAddTensor(cudnn_, &kOne, d.bias, f32_of(bias), &kOne, d.y, f32_of(y)));
}

void CudaBackend::conv2d_backward_data(const Tensor& grad_y, const Tensor& w, Tensor& grad_x, const Window2d& g) {
  if (!conv_algorithms_) conv_algorithms_ = std::make_shared<ConvAlgorithms>();
  const ConvDescriptors d(g);
  const ConvChoice c = choose(*conv_algorithms_, ConvPass::BackwardData, g, [&] {
    cudnnConvolutionBwdDataAlgoPerf_t results[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    int count = 0;
    Scratch ws(allocator_, kMaxWorkspace);
    TAPER_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(
        cudnn_, d.w, f32_of(w), d.y, f32_of(grad_y), d.conv, d.x, f32_of(grad_x),
        CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &count, results, ws.get(), kMaxWorkspace));
    return pick(results, count, "backward-data");
  });
  TAPER_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, c.math));
  Scratch ws(allocator_, c.workspace);
  TAPER_CUDNN_CHECK(cudnnConvolutionBackwardData(cudnn_, &kOne, d.w, f32_of(w), d.y, f32_of(grad_y), d.conv,
                                                 static_cast<cudnnConvolutionBwdDataAlgo_t>(c.algorithm), ws.get(),
                                                 c.workspace, &kZero, d.x, f32_of(grad_x)));
}

void CudaBackend::conv2d_backward_weight(const Tensor& x, const Tensor& grad_y, Tensor& grad_w, Tensor& grad_bias,
                                         const Window2d& g) {
  if (!conv_algorithms_) conv_algorithms_ = std::make_shared<ConvAlgorithms>();
  const ConvDescriptors d(g);
  const ConvChoice c = choose(*conv_algorithms_, ConvPass::BackwardFilter, g, [&] {
    cudnnConvolutionBwdFilterAlgoPerf_t results[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    int count = 0;
    Scratch ws(allocator_, kMaxWorkspace);
    TAPER_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(
        cudnn_, d.x, f32_of(x), d.y, f32_of(grad_y), d.conv, d.w, f32_of(grad_w),
        CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &count, results, ws.get(), kMaxWorkspace));
    return pick(results, count, "backward-filter");
  });
  TAPER_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, c.math));
  Scratch ws(allocator_, c.workspace);
  TAPER_CUDNN_CHECK(cudnnConvolutionBackwardFilter(cudnn_, &kOne, d.x, f32_of(x), d.y, f32_of(grad_y), d.conv,
                                                   static_cast<cudnnConvolutionBwdFilterAlgo_t>(c.algorithm),
                                                   ws.get(), c.workspace, &kZero, d.w, f32_of(grad_w)));
  if (grad_bias.defined()) {
    TAPER_CUDNN_CHECK(cudnnConvolutionBackwardBias(cudnn_, &kOne, d.y, f32_of(grad_y), &kZero, d.bias,
                                                   f32_of(grad_bias)));
  }
}

}  // namespace taper

// Error checks for the CUDA runtime, cuBLAS and cuDNN, and the small
// launch helpers every kernel file uses. A failed call throws
// std::runtime_error naming the call, the file and line and the library's
// own message: a device error never passes silently.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <cstdint>
#include <string>

#include "engine/tensor.h"

namespace taper::cuda {

[[noreturn]] void fail(const char* call, const char* file, int line, const std::string& message);

#define TAPER_CUDA_CHECK(call)                                                                     \
  do {                                                                                             \
    const cudaError_t taper_err_ = (call);                                                         \
    if (taper_err_ != cudaSuccess) ::taper::cuda::fail(#call, __FILE__, __LINE__, cudaGetErrorString(taper_err_)); \
  } while (0)

#define TAPER_CUBLAS_CHECK(call)                                                                      \
  do {                                                                                                \
    const cublasStatus_t taper_st_ = (call);                                                          \
    if (taper_st_ != CUBLAS_STATUS_SUCCESS) ::taper::cuda::fail(#call, __FILE__, __LINE__, cublasGetStatusString(taper_st_)); \
  } while (0)

#define TAPER_CUDNN_CHECK(call)                                                                     \
  do {                                                                                              \
    const cudnnStatus_t taper_st_ = (call);                                                         \
    if (taper_st_ != CUDNN_STATUS_SUCCESS) ::taper::cuda::fail(#call, __FILE__, __LINE__, cudnnGetErrorString(taper_st_)); \
  } while (0)

// After every kernel launch: a bad launch configuration shows up here, an
// error inside the kernel at the next synchronising call.
#define TAPER_CUDA_LAUNCHED() TAPER_CUDA_CHECK(cudaGetLastError())

constexpr int kThreads = 256;

// Blocks for a grid-stride loop over n elements (n > 0).
inline unsigned grid_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks < 65536 ? blocks : 65536);
}

// Typed device pointers; the dtype is checked, the device is the caller's.
inline float* f32_of(const Tensor& t) {
  if (t.dtype() != DType::F32) fail("f32_of", __FILE__, __LINE__, "tensor holds " + std::string(dtype_name(t.dtype())));
  return static_cast<float*>(t.data_ptr());
}
inline int64_t* i64_of(const Tensor& t) {
  if (t.dtype() != DType::I64) fail("i64_of", __FILE__, __LINE__, "tensor holds " + std::string(dtype_name(t.dtype())));
  return static_cast<int64_t*>(t.data_ptr());
}

}  // namespace taper::cuda

#ifdef __CUDACC__
// for (i in [0, n)) spread over the whole grid.
#define TAPER_GRID_LOOP(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(blockDim.x) * gridDim.x)
#endif

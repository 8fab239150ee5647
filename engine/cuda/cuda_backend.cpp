// The CUDA backend's life cycle, memory and host copies; the kernels live
// in the files of their families (elementwise.cu, gemm.cu, conv2d.cpp, ...).
#include "engine/cuda/cuda_backend.h"

#include <cstring>
#include <mutex>
#include <stdexcept>

#include "engine/cuda/cuda_check.h"

namespace taper {

namespace cuda {
void fail(const char* call, const char* file, int line, const std::string& message) {
  throw std::runtime_error(std::string("CUDA: ") + call + " failed at " + file + ":" + std::to_string(line) + ": " +
                           message);
}
}  // namespace cuda

namespace {

// Throws the "no CUDA device" error commands and tests rely on.
void check_device_present(int index) {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error
    throw std::runtime_error(std::string("no CUDA device: the CUDA runtime reports '") + cudaGetErrorString(err) +
                             "'; --device cuda needs an NVIDIA GPU and its driver (use --device cpu)");
  }
  if (count == 0) throw std::runtime_error("no CUDA device: the driver sees no GPU (use --device cpu)");
  if (index < 0 || index >= count) {
    throw std::runtime_error("no CUDA device: cuda:" + std::to_string(index) + " asked for, the machine has " +
                             std::to_string(count));
  }
}

}  // namespace

CudaBackend::CudaBackend(int index)
    : device_(Device::cuda(index)),
      allocator_(
          [](size_t bytes) -> void* {
            void* p = nullptr;
            if (cudaMalloc(&p, bytes) != cudaSuccess) {
              cudaGetLastError();  // out of memory is answered by the allocator, not sticky
              return nullptr;
            }
            return p;
          },
          [](void* p) { cudaFree(p); }, Device::cuda(index).str()) {
  check_device_present(index);
  TAPER_CUDA_CHECK(cudaSetDevice(index));
  TAPER_CUBLAS_CHECK(cublasCreate(&cublas_));
  TAPER_CUDNN_CHECK(cudnnCreate(&cudnn_));
}

CudaBackend::~CudaBackend() {
  if (cudnn_) cudnnDestroy(cudnn_);
  if (cublas_) cublasDestroy(cublas_);
}

void CudaBackend::synchronize() { TAPER_CUDA_CHECK(cudaDeviceSynchronize()); }

void* CudaBackend::allocate(size_t bytes) {
  void* p = allocator_.allocate(bytes);
#ifdef TAPER_POISON_ALLOCATIONS
  TAPER_CUDA_CHECK(cudaMemsetAsync(p, 0xFF, CachingAllocator::round_size(bytes)));  // NaN, as on the CPU
#endif
  return p;
}

void CudaBackend::deallocate(void* data, size_t) { allocator_.deallocate(data); }

void CudaBackend::zero(Tensor& out) {
  if (out.nbytes()) TAPER_CUDA_CHECK(cudaMemsetAsync(out.data_ptr(), 0, out.nbytes()));
}

void CudaBackend::copy_from_host(Tensor& dst, const void* src) {
  if (dst.nbytes()) TAPER_CUDA_CHECK(cudaMemcpy(dst.data_ptr(), src, dst.nbytes(), cudaMemcpyHostToDevice));
}

void CudaBackend::copy_to_host(void* dst, const Tensor& src) {
  if (src.nbytes()) TAPER_CUDA_CHECK(cudaMemcpy(dst, src.data_ptr(), src.nbytes(), cudaMemcpyDeviceToHost));
}

void CudaBackend::copy_range(Tensor& dst, size_t dst_offset, const Tensor& src, size_t src_offset, size_t bytes) {
  if (bytes) {
    TAPER_CUDA_CHECK(cudaMemcpyAsync(static_cast<char*>(dst.data_ptr()) + dst_offset,
                                     static_cast<const char*>(src.data_ptr()) + src_offset, bytes,
                                     cudaMemcpyDeviceToDevice));
  }
}

CudaBackend& cuda_backend_instance(int index) {
  // Made once; a failure is remembered so that every later call throws the
  // same message at once. Never destroyed: tensors in static storage free
  // into it at exit.
  static std::mutex mutex;
  static CudaBackend* backend = nullptr;
  static int backend_index = -1;
  static std::string failure;
  std::lock_guard<std::mutex> lock(mutex);
  if (!backend && failure.empty()) {
    try {
      backend = new CudaBackend(index);
      backend_index = index;
    } catch (const std::exception& e) {
      failure = e.what();
    }
  }
  if (!backend) throw std::runtime_error(failure);
  if (index != backend_index) {
    throw std::runtime_error("cuda:" + std::to_string(index) + ": this process already uses cuda:" +
                             std::to_string(backend_index) + " (one GPU per process)");
  }
  return *backend;
}

Backend& cuda_backend(int index) { return cuda_backend_instance(index); }

}  // namespace taper

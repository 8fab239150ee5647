#include <cstdlib>
#include <cstring>
#include <new>

#include "engine/cpu/cpu_backend.h"

namespace taper {

void* CpuBackend::allocate(size_t bytes) {
  // 64-byte alignment suits AVX-512 loads and cache lines; aligned_alloc
  // wants a multiple of the alignment.
  const size_t rounded = bytes ? (bytes + 63) / 64 * 64 : 64;
  void* data = std::aligned_alloc(64, rounded);
  if (!data) throw std::bad_alloc();
#ifdef TAPER_POISON_ALLOCATIONS
  // Sanitizer builds fill new memory with NaN bytes, so that a kernel that
  // reads an output before writing it shows up as NaN instead of passing by luck.
  std::memset(data, 0xFF, rounded);
#endif
  return data;
}

void CpuBackend::deallocate(void* data, size_t) { std::free(data); }

void CpuBackend::zero(Tensor& out) { std::memset(out.data_ptr(), 0, out.nbytes()); }

void CpuBackend::copy_from_host(Tensor& dst, const void* src) { std::memcpy(dst.data_ptr(), src, dst.nbytes()); }

void CpuBackend::copy_to_host(void* dst, const Tensor& src) { std::memcpy(dst, src.data_ptr(), src.nbytes()); }

void CpuBackend::copy_range(Tensor& dst, size_t dst_offset, const Tensor& src, size_t src_offset, size_t bytes) {
  std::memcpy(static_cast<char*>(dst.data_ptr()) + dst_offset, static_cast<const char*>(src.data_ptr()) + src_offset,
              bytes);
}

}  // namespace taper

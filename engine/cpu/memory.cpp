#include <cstdlib>
#include <cstring>
#include <new>

#include "engine/caching_allocator.h"
#include "engine/cpu/cpu_backend.h"

namespace taper {

namespace {

void* aligned_block(size_t bytes) {
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

#ifndef TAPER_POISON_ALLOCATIONS
// Blocks of at least this size are kept for reuse: a training step frees and
// asks again for the same activation sizes, and every fresh multi-megabyte
// block from the C library costs a page fault per 4 KB page (7% of a width-16
// ResNet-18 step under perf). Small blocks stay with malloc, which is fast at
// those. Sanitizer builds skip the cache, so that AddressSanitizer sees every
// use after free and new memory is poisoned.
constexpr size_t kCachedFrom = size_t{1} << 20;

CachingAllocator& large_blocks() {
  // Never destroyed: tensors in static storage may be freed after it would be.
  // Block sizes are multiples of 512 bytes, as aligned_alloc wants; nullptr
  // when memory is short lets the cache give its blocks back and try again.
  static CachingAllocator* cache =
      new CachingAllocator([](size_t bytes) { return std::aligned_alloc(64, bytes); }, std::free, "cpu");
  return *cache;
}
#endif

}  // namespace

void* CpuBackend::allocate(size_t bytes) {
#ifndef TAPER_POISON_ALLOCATIONS
  if (bytes >= kCachedFrom) return large_blocks().allocate(bytes);
#endif
  return aligned_block(bytes);
}

void CpuBackend::deallocate(void* data, [[maybe_unused]] size_t bytes) {  // unused when poisoning
#ifndef TAPER_POISON_ALLOCATIONS
  if (bytes >= kCachedFrom) return large_blocks().deallocate(data);
#endif
  std::free(data);
}

void CpuBackend::zero(Tensor& out) { std::memset(out.data_ptr(), 0, out.nbytes()); }

void CpuBackend::copy_from_host(Tensor& dst, const void* src) { std::memcpy(dst.data_ptr(), src, dst.nbytes()); }

void CpuBackend::copy_to_host(void* dst, const Tensor& src) { std::memcpy(dst, src.data_ptr(), src.nbytes()); }

void CpuBackend::copy_range(Tensor& dst, size_t dst_offset, const Tensor& src, size_t src_offset, size_t bytes) {
  std::memcpy(static_cast<char*>(dst.data_ptr()) + dst_offset, static_cast<const char*>(src.data_ptr()) + src_offset,
              bytes);
}

}  // namespace taper

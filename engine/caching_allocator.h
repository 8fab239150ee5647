// A cache of freed device blocks, so that an op's outputs reuse memory
// instead of asking the device for more on every op (cudaMalloc and cudaFree
// synchronise the whole device and cost tens of microseconds each).
//
// Device-neutral: the raw allocation functions are passed in (the CUDA
// backend gives cudaMalloc / cudaFree; the tests give malloc / free). Reuse
// is safe for a device that runs all work on one stream in order, as the
// CUDA backend does: a block freed after its last kernel was queued is
// handed out again only to kernels queued after that one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

namespace taper {

class CachingAllocator {
 public:
  using RawAlloc = std::function<void*(size_t bytes)>;  // nullptr when the device is out of memory
  using RawFree = std::function<void(void* block)>;

  struct Stats {
    size_t in_use_bytes = 0, cached_bytes = 0, peak_in_use_bytes = 0;
    int64_t raw_allocs = 0, raw_frees = 0, reuses = 0;
  };

  CachingAllocator(RawAlloc alloc, RawFree free, std::string device_name);
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // A block of at least `bytes` (never nullptr): a cached one that fits, else
  // a new one; when the device is out of memory, the cache is returned to it
  // and the allocation tried once more before std::runtime_error names the
  // device, the request and the bytes in use.
  void* allocate(size_t bytes);
  void deallocate(void* block);  // the block goes back to the cache
  void release_cached();         // every cached block back to the device
  Stats stats() const;

  // Sizes handed out: multiples of 512 bytes (at least 512).
  static size_t round_size(size_t bytes);

 private:
  void* take_cached(size_t size);

  RawAlloc raw_alloc_;
  RawFree raw_free_;
  std::string device_;
  mutable std::mutex mutex_;
  std::multimap<size_t, void*> cached_;       // block size -> free block
  std::unordered_map<void*, size_t> in_use_;  // handed-out block -> its size
  Stats stats_;
};

}  // namespace taper

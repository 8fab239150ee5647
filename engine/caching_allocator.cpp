#include "engine/caching_allocator.h"

#include <stdexcept>

namespace taper {

namespace {
constexpr size_t kGranule = 512;
// A cached block serves a request when it wastes at most a quarter of the
// request (plus one granule): training repeats the same shapes, so exact
// fits dominate, and a huge block is not tied up by a small tensor.
bool fits(size_t block, size_t request) { return block <= request + request / 4 + kGranule; }
}  // namespace

CachingAllocator::CachingAllocator(RawAlloc alloc, RawFree free, std::string device_name)
    : raw_alloc_(std::move(alloc)), raw_free_(std::move(free)), device_(std::move(device_name)) {}

size_t CachingAllocator::round_size(size_t bytes) {
  return bytes == 0 ? kGranule : (bytes + kGranule - 1) / kGranule * kGranule;
}

void* CachingAllocator::take_cached(size_t size) {
  auto it = cached_.lower_bound(size);
  if (it == cached_.end() || !fits(it->first, size)) return nullptr;
  void* block = it->second;
  in_use_[block] = it->first;
  stats_.cached_bytes -= it->first;
  stats_.in_use_bytes += it->first;
  ++stats_.reuses;
  cached_.erase(it);
  return block;
}

void* CachingAllocator::allocate(size_t bytes) {
  const size_t size = round_size(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  void* block = take_cached(size);
  if (!block) {
    block = raw_alloc_(size);
    if (!block && !cached_.empty()) {
      for (auto& [s, b] : cached_) raw_free_(b), ++stats_.raw_frees;
      cached_.clear();
      stats_.cached_bytes = 0;
      block = raw_alloc_(size);
    }
    if (!block) {
      throw std::runtime_error(device_ + ": out of memory allocating " + std::to_string(size) + " bytes (" +
                               std::to_string(stats_.in_use_bytes) + " bytes in use by tensors)");
    }
    ++stats_.raw_allocs;
    in_use_[block] = size;
    stats_.in_use_bytes += size;
  }
  if (stats_.in_use_bytes > stats_.peak_in_use_bytes) stats_.peak_in_use_bytes = stats_.in_use_bytes;
  return block;
}

void CachingAllocator::deallocate(void* block) {
  if (!block) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = in_use_.find(block);
  if (it == in_use_.end()) throw std::logic_error(device_ + ": freeing a block this allocator did not hand out");
  cached_.emplace(it->second, block);
  stats_.in_use_bytes -= it->second;
  stats_.cached_bytes += it->second;
  in_use_.erase(it);
}

void CachingAllocator::release_cached() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [size, block] : cached_) raw_free_(block), ++stats_.raw_frees;
  cached_.clear();
  stats_.cached_bytes = 0;
}

CachingAllocator::Stats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

}  // namespace taper

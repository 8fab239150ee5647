#include "engine/backend.h"

#include <atomic>
#include <stdexcept>

#include "engine/cpu/cpu_backend.h"

namespace taper {

#ifdef TAPER_CUDA
// engine/cuda/cuda_backend.cpp: the backend of cuda:index, made on first use;
// throws "no CUDA device: ..." when the machine has none.
Backend& cuda_backend(int index);
bool cuda_built() { return true; }
#else
bool cuda_built() { return false; }
#endif

Backend& backend_for(Device device) {
  // Never destroyed: tensors in static storage free into it at exit.
  static CpuBackend* const cpu = new CpuBackend;
  if (device.is_cpu()) return *cpu;
#ifdef TAPER_CUDA
  return cuda_backend(device.index);
#else
  throw std::runtime_error("no CUDA device: this build of taper has no CUDA backend (built with CUDA=0, or make "
                           "found no nvcc and cuDNN); " + device.str() + " is unavailable");
#endif
}

void require_device(Device device) { backend_for(device); }

namespace {
std::atomic<bool> g_allow_tf32{false};
}
void set_allow_tf32(bool allow) { g_allow_tf32 = allow; }
bool allow_tf32() { return g_allow_tf32; }

}  // namespace taper

#include "engine/backend.h"

#include <stdexcept>

#include "engine/cpu/cpu_backend.h"

namespace taper {

Backend& backend_for(Device device) {
  static CpuBackend cpu;
  if (device.is_cpu()) return cpu;
  throw std::runtime_error("no backend for device " + device.str() + " in this build");
}

}  // namespace taper

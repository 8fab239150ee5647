// The device tag every tensor carries. Ops dispatch on it; the CPU backend is
// always built, the CUDA backend only when the toolkit is found.
#pragma once

#include <cstdint>
#include <string>

namespace taper {

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  static Device cpu() { return Device{}; }
  static Device cuda(int index = 0) { return Device{DeviceType::CUDA, index}; }
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const;  // "cpu", "cuda:0"
};

// "cpu", "cuda" (= cuda:0) or "cuda:N"; throws std::invalid_argument naming
// the text otherwise (engine/device.cpp).
Device parse_device(const std::string& text);

// Throws the backend's error ("no CUDA device: ...") unless tensors can be
// made on device; commands call it before any work (engine/backend.cpp).
void require_device(Device device);
// True when this build has the CUDA backend (whether or not a GPU is there).
bool cuda_built();

// Whether the CUDA backend may use TF32 tensor cores for FP32 GEMM and
// convolution. Off by default, so that FP32 results match the CPU's within
// 1e-4; on trades about 3 decimal digits of the inputs for speed.
void set_allow_tf32(bool allow);
bool allow_tf32();

}  // namespace taper

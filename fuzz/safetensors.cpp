// libFuzzer target: safetensors headers and data (engine/safetensors.cpp).
// Every input must either parse into tensors that serialize back to a file
// that parses to the same tensors, or throw SafetensorsError; anything else
// (a crash, a sanitizer report, another exception) is a bug.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "engine/safetensors.h"

using namespace taper;

namespace {
bool same(const SafetensorsFile& a, const SafetensorsFile& b) {
  if (a.metadata != b.metadata || a.tensors.size() != b.tensors.size()) return false;
  for (const auto& [name, t] : a.tensors) {
    const auto it = b.tensors.find(name);
    if (it == b.tensors.end()) return false;
    const Tensor& u = it->second;
    if (t.dtype() != u.dtype() || t.shape() != u.shape()) return false;
    if (t.nbytes() > 0 && std::memcmp(t.data_ptr(), u.data_ptr(), t.nbytes()) != 0) return false;
  }
  return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  SafetensorsFile file;
  try {
    file = parse_safetensors(std::string(reinterpret_cast<const char*>(data), size), "fuzz input");
  } catch (const SafetensorsError&) {
    return 0;
  }
  // A file we accept must survive our own writer (names and metadata that
  // parse are valid UTF-8, which the JSON writer requires).
  const std::string again = serialize_safetensors(file);
  if (!same(file, parse_safetensors(again, "reserialized fuzz input"))) std::abort();
  return 0;
}

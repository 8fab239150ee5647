// safetensors read and write (https://github.com/huggingface/safetensors):
// an 8-byte little-endian header length N, N bytes of JSON
//   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
//    "__metadata__": {"key": "string value"}}
// then the raw little-endian tensor bytes. Checkpoints and personalized
// models use it so that any PyTorch or JAX user can open them.
//
// Reading validates everything the header claims against the file before a
// byte of tensor data is touched; any lie (sizes, offsets, overlaps, shapes,
// dtypes, truncation) throws SafetensorsError naming the file and tensor.
#pragma once

#include <map>
#include <stdexcept>
#include <string>

#include "engine/tensor.h"

namespace taper {

class SafetensorsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;          // CPU tensors, sorted by name
  std::map<std::string, std::string> metadata;    // "__metadata__"
};

// Parses an in-memory file; `origin` names it in error messages.
SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& origin);
SafetensorsFile load_safetensors(const std::string& path);
// The metadata alone, reading only the header: every claim of it is checked
// against the file's size as load_safetensors does, but no tensor is read.
std::map<std::string, std::string> load_safetensors_metadata(const std::string& path);

std::string serialize_safetensors(const SafetensorsFile& file);
// Writes path atomically (engine/atomic_file.h): a failure throws
// FileWriteError and leaves any old file intact.
void save_safetensors(const std::string& path, const SafetensorsFile& file);

}  // namespace taper

// Element types. Training is float32; labels and indices are int64; raw
// image bytes are uint8. The names match safetensors' dtype strings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace taper {

enum class DType : uint8_t { F32, I64, U8 };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);  // "F32", "I64", "U8"
bool dtype_from_name(const std::string& name, DType* out);

}  // namespace taper

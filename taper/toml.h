// toml++ as taper includes it: include this, never <toml++/toml.h>.
//
// toml++ 3.3 (Debian 12) checks some of its parser's assumptions with
// assert() where it should report a syntax error: "[" followed by a newline,
// a NUL or an '=' in a table header trips one (found by fuzz/config.cpp),
// and under NDEBUG the same check becomes an optimiser assumption, i.e.
// undefined behaviour. Here every such check throws TomlInternalError in
// every build, which the readers turn into a syntax error naming the file.
#pragma once

#include <stdexcept>

namespace taper {
class TomlInternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};
}  // namespace taper

#pragma push_macro("NDEBUG")
#undef NDEBUG
#define TOML_ASSERT(expr) \
  ((expr) ? static_cast<void>(0) : throw ::taper::TomlInternalError("toml++ internal check failed: " #expr))
#include <toml++/toml.h>
#pragma pop_macro("NDEBUG")

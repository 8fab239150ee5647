// toml++ as taper includes it: include this, never <toml++/toml.h>, and
// pass text through toml_hazard before toml++ parses it.
//
// toml++ 3.3 (Debian 12) has two kinds of defects that fuzz/config.cpp found:
//  - it checks some parser assumptions with assert() where it should report
//    a syntax error ("[" followed by a newline, a NUL or '=' in a table
//    header), and under NDEBUG such a check becomes an optimiser assumption,
//    i.e. undefined behaviour. Here every such check throws
//    TomlInternalError in every build;
//  - its Unicode whitespace test reaches __builtin_unreachable for many
//    non-ASCII characters (e.g. U+03DA) where it looks for whitespace, i.e.
//    outside strings and comments. TOML 1.0 allows only ASCII there, so
//    toml_hazard finds such bytes (and NULs, allowed nowhere) first.
#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace taper {

class TomlInternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

struct TomlHazard {
  size_t line = 0, column = 0;  // 1-based, in bytes
  std::string what;
};

// The first NUL byte, or non-ASCII byte outside strings and comments.
std::optional<TomlHazard> toml_hazard(std::string_view text);

}  // namespace taper

#pragma push_macro("NDEBUG")
#undef NDEBUG
#define TOML_ASSERT(expr) \
  ((expr) ? static_cast<void>(0) : throw ::taper::TomlInternalError("toml++ internal check failed: " #expr))
// A few of toml++'s checks sit in noexcept functions (the UTF-8 reader's
// step_back, the parser's go_back); there a failed check ends the program
// through std::terminate, which is loud, never silent (fuzz_config covers
// those paths). GCC says so for every file that includes this one; clang
// (the fuzz build) has no such warning.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wterminate"
#endif
#include <toml++/toml.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#pragma pop_macro("NDEBUG")

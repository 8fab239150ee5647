// toml++ as taper includes it: include this, never <toml++/toml.h>, and
// pass text through toml_hazard before toml++ parses it.
//
// toml++ 3.3 (Debian 12) has two kinds of defects that fuzz/config.cpp found:
//  - it checks some parser assumptions with assert() where it should report
//    a syntax error ("[" followed by a newline, a NUL or '=' in a table
//    header), and under NDEBUG such a check becomes an optimiser assumption,
//    i.e. undefined behaviour. Here every such check throws
//    TomlInternalError in every build;
//  - its Unicode whitespace test reaches __builtin_unreachable for the
//    non-whitespace characters of U+00A1-U+0499, U+2C8E-U+3087 and
//    U+FB26-U+FEFE (e.g. U+03DA, or the BOM's neighbours) wherever it looks
//    for whitespace: outside strings and comments, after a backslash in a
//    string, and wherever its reading of quotes differs from a simple
//    scanner's (fuzz_config found five such places). parse_toml hands toml++
//    those characters only as private-use stand-ins, which the test rejects
//    at once, and restores them in keys and strings; toml_hazard reports
//    NULs and the clearest of the misplaced characters first, with their
//    place.
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

namespace taper {

// `text` (from `origin`, named in errors) parsed by toml++ as described
// above. Throws ConfigError "origin:line:column: TOML syntax error: ...".
toml::table parse_toml(std::string_view text, const std::string& origin);

}  // namespace taper

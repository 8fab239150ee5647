#include "taper/toml.h"

namespace taper {
namespace {

enum class Lexeme { kCode, kComment, kBasic, kLiteral, kMultiBasic, kMultiLiteral };

bool starts(std::string_view text, size_t i, std::string_view what) { return text.substr(i, what.size()) == what; }

// Past a closing ''' or """ at i, with the one or two quotes TOML allows
// right before it counted as content; returns the index of its last quote.
size_t close_multiline(std::string_view text, size_t i, char quote) {
  size_t end = i + 2;
  for (int extra = 0; extra < 2 && end + 1 < text.size() && text[end + 1] == quote; ++extra) ++end;
  return end;
}

// A quote opens a string only where TOML allows one (fuzz_config found both
// cases): a key's string, single-line, at the start of a line or after '.' or
// a table header's '['; a value's string, perhaps multi-line, after '=', ','
// or an array's '['. Elsewhere (inside a bare word, `x = 1a"...`, or `"""` as
// a key) toml++ reads the quotes and what follows as bare characters, and
// its whitespace test reaches __builtin_unreachable on many non-ASCII
// characters, so the scanner does not count them as a string either.
enum class Opening { kNone, kKey, kValue };
Opening string_opening(std::string_view text, size_t i, size_t line_start) {
  while (i > line_start && (text[i - 1] == ' ' || text[i - 1] == '\t')) --i;
  if (i == line_start) return Opening::kKey;
  const char before = text[i - 1];
  if (before == '=' || before == ',') return Opening::kValue;
  if (before == '.') return Opening::kKey;
  if (before != '[') return Opening::kNone;
  size_t first = line_start;  // a '[' that begins the line (or "[[") opens a table header
  while (first < i && (text[first] == ' ' || text[first] == '\t')) ++first;
  return text.substr(first, i - first).find_first_not_of('[') == std::string_view::npos ? Opening::kKey
                                                                                         : Opening::kValue;
}

}  // namespace

std::optional<TomlHazard> toml_hazard(std::string_view text) {
  Lexeme state = Lexeme::kCode;
  size_t line = 1, line_start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const auto hazard = [&](const char* what) { return TomlHazard{line, i - line_start + 1, what}; };
    if (c == 0) return hazard("a NUL byte (is this a binary file?)");
    if (c == '\n') {
      ++line;
      line_start = i + 1;
      if (state == Lexeme::kComment || state == Lexeme::kBasic || state == Lexeme::kLiteral) state = Lexeme::kCode;
      continue;
    }
    switch (state) {
      case Lexeme::kCode:
        if (c >= 0x80) return hazard("a non-ASCII character outside a string or comment");
        if (c == '#') state = Lexeme::kComment;
        if (c == '"' || c == '\'') {
          const Opening o = string_opening(text, i, line_start);
          if (o == Opening::kNone) break;
          const bool multi = o == Opening::kValue && starts(text, i, c == '"' ? "\"\"\"" : "'''");
          if (multi) i += 2;
          state = c == '"' ? (multi ? Lexeme::kMultiBasic : Lexeme::kBasic)
                           : (multi ? Lexeme::kMultiLiteral : Lexeme::kLiteral);
        }
        break;
      case Lexeme::kComment:
        break;
      case Lexeme::kBasic:
      case Lexeme::kMultiBasic:
        if (c == '\\' && i + 1 < text.size()) {
          const auto next = static_cast<unsigned char>(text[i + 1]);
          // No TOML escape is non-ASCII; toml++ tests such a character for whitespace and
          // reaches __builtin_unreachable (fuzz_config).
          if (next >= 0x80) {
            ++i;  // the error names the character's column
            return hazard("a backslash before a non-ASCII character (not a TOML escape)");
          }
          // An escaped character, e.g. \" (a backslash before a newline continues the line).
          if (next != '\n') ++i;
        } else if (state == Lexeme::kBasic ? c == '"' : starts(text, i, "\"\"\"")) {
          if (state == Lexeme::kMultiBasic) i = close_multiline(text, i, '"');
          state = Lexeme::kCode;
        }
        break;
      case Lexeme::kLiteral:
        if (c == '\'') state = Lexeme::kCode;
        break;
      case Lexeme::kMultiLiteral:
        if (starts(text, i, "'''")) {
          i = close_multiline(text, i, '\'');
          state = Lexeme::kCode;
        }
        break;
    }
  }
  return std::nullopt;
}

}  // namespace taper
